import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge.models import Article, Chunk
from knowledge.tests.conftest import wait_for


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _articles(n: int) -> dict[str, str]:
    return {
        f"kb/topic-{i}.md": f"# Topic {i}\n\n## Details\n\nTopic {i} explains feature {i}."
        for i in range(n)
    }


@pytest.mark.django_db(transaction=True)
def test_a_zip_of_twenty_articles_becomes_twenty_embedded_articles(admin_client, worker):
    upload = SimpleUploadedFile("kb.zip", _zip(_articles(20) | {"__MACOSX/._x.md": "junk"}))
    response = admin_client.post("/admin/knowledge/article/upload/", {"files": [upload]})

    assert response.status_code == 302
    assert Article.objects.count() == 20
    wait_for(lambda: Article.objects.filter(status="ready").count() == 20, worker)
    assert Chunk.objects.values("article").distinct().count() == 20


def test_several_files_at_once_and_bad_ones_are_reported(
    admin_client, django_capture_on_commit_callbacks
):
    files = [
        SimpleUploadedFile("billing.md", b"# Billing\n\nPay by card."),
        SimpleUploadedFile("notes.txt", b"Plain text notes."),
        SimpleUploadedFile("broken.zip", b"not a zip"),
        SimpleUploadedFile("slides.pptx", b"PK..."),
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            "/admin/knowledge/article/upload/", {"files": files}, follow=True
        )

    page = response.content.decode()
    assert sorted(Article.objects.values_list("slug", flat=True)) == ["billing", "notes"]
    assert len(callbacks) == 2
    assert "2 article(s) uploaded" in page
    assert "roken.zip is not a valid .zip file." in page  # the admin capitalises messages
    assert "unsupported file type .pptx" in page


def test_the_url_field_says_why_it_is_disabled(admin_client):
    page = admin_client.get("/admin/knowledge/article/upload/").content.decode()
    assert "no outbound network access" in page
    assert "disabled" in page


def test_an_editor_without_add_permission_cannot_upload(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/knowledge/article/upload/").status_code == 403
