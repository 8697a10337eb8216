"""The bulk upload: the request stores the files, a real Celery worker reads them, and the
upload's status page says what became of each."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge.models import Article, Chunk, UploadFile
from knowledge.tests.conftest import wait_for

UPLOAD_URL = "/admin/knowledge/article/upload/"


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _articles(n: int) -> dict[str, str]:
    return {
        f"kb/topic-{i}.md": f"# Topic {i}\n\n## Details\n\nTopic {i} explains feature {i}."
        for i in range(n)
    }


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _all_read() -> bool:
    return not UploadFile.objects.filter(status=UploadFile.Status.PENDING).exists()


@pytest.mark.django_db(transaction=True)
def test_a_zip_of_twenty_articles_becomes_twenty_embedded_articles(admin_client, worker):
    upload = SimpleUploadedFile("kb.zip", _zip(_articles(20) | {"__MACOSX/._x.md": "junk"}))
    response = admin_client.post(UPLOAD_URL, {"files": [upload]})

    assert response.status_code == 302
    assert "/admin/knowledge/article/upload/" in response.url
    wait_for(lambda: Article.objects.filter(status="ready").count() == 20, worker)
    assert Chunk.objects.values("article").distinct().count() == 20
    page = _text(admin_client.get(response.url))
    assert "21 files: all read." in page
    assert "Unpacked: 20 file(s)" in page
    assert page.count("Saved article") == 20


@pytest.mark.django_db(transaction=True)
def test_several_files_at_once_and_bad_ones_are_reported_on_the_status_page(admin_client, worker):
    files = [
        SimpleUploadedFile("billing.md", b"# Billing\n\nPay by card."),
        SimpleUploadedFile("notes.txt", b"Plain text notes."),
        SimpleUploadedFile("broken.zip", b"not a zip"),
        SimpleUploadedFile("slides.pptx", b"PK..."),
    ]
    response = admin_client.post(UPLOAD_URL, {"files": files})
    wait_for(_all_read, worker)

    page = _text(admin_client.get(response.url))
    assert sorted(Article.objects.values_list("slug", flat=True)) == ["billing", "notes"]
    assert "4 files: all read, 2 failed." in page
    assert "Failed: broken.zip is not a valid .zip file." in page
    assert "unsupported file type .pptx" in page
    assert page.count("Saved article") == 2


def test_the_request_only_stores_the_files_and_queues_each_on_commit(
    admin_client, django_capture_on_commit_callbacks
):
    files = [SimpleUploadedFile(f"page-{i}.md", b"# Page\n\nText.") for i in range(3)]
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(UPLOAD_URL, {"files": files}, follow=True)

    assert not Article.objects.exists()  # nothing is read in the request
    assert list(UploadFile.objects.values_list("status", flat=True)) == ["pending"] * 3
    assert len(callbacks) == 3
    page = _text(response)
    assert "3 file(s) uploaded; reading them now." in page
    assert page.count("Waiting for a worker") == 3


def test_the_url_field_says_why_it_is_disabled(admin_client):
    page = admin_client.get(UPLOAD_URL).content.decode()
    assert "no outbound network access" in page
    assert "disabled" in page


def test_an_editor_without_add_permission_cannot_upload(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(UPLOAD_URL).status_code == 403
