"""The Article admin: write an article or upload a file, and embedding is scheduled on commit."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge.models import Article

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/knowledge/article/add/"
CHANGELIST_URL = "/admin/knowledge/article/"

REFUNDS_MD = b"""\
# Refund policy

Annual plans are refunded in full within fourteen days.

## Monthly plans

Monthly plans are not refunded.
"""


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def form_data(**fields) -> dict:
    data = {
        "title": "",
        "slug": "",
        "body": "",
        "source_url": "",
        # The read-only chunk inline still posts its management form.
        "chunks-TOTAL_FORMS": "0",
        "chunks-INITIAL_FORMS": "0",
        "chunks-MIN_NUM_FORMS": "0",
        "chunks-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return data


def errors_of(response) -> str:
    """The text of every error list on the re-rendered form."""
    return " ".join(
        re.sub(r"<[^>]+>", " ", ul)
        for ul in re.findall(r'<ul class="errorlist[^"]*"[^>]*>.*?</ul>', response.text, re.S)
    )


def test_uploading_a_markdown_file_alone_creates_the_article(
    admin_client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("refund-policy.md", REFUNDS_MD, content_type="text/markdown")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(ADD_URL, form_data(file=upload))

    assert response.status_code == 302, errors_of(response)
    article = Article.objects.get()
    assert article.title == "Refund policy"
    assert article.slug == "refund-policy"
    assert article.body == REFUNDS_MD.decode().strip()
    assert article.file.name.startswith("articles/refund-policy")
    assert article.status == Article.Status.PENDING
    assert len(callbacks) == 1


def test_a_title_and_slug_typed_by_the_editor_win_over_the_files(admin_client):
    upload = SimpleUploadedFile("refund-policy.md", REFUNDS_MD)

    response = admin_client.post(
        ADD_URL, form_data(title="Money back", slug="money-back", file=upload)
    )

    assert response.status_code == 302, errors_of(response)
    article = Article.objects.get()
    assert (article.title, article.slug) == ("Money back", "money-back")
    assert "fourteen days" in article.body


def test_writing_a_body_without_a_file_works_and_derives_the_slug(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            ADD_URL, form_data(title="Support hours", body="We answer on weekdays.")
        )

    assert response.status_code == 302, errors_of(response)
    article = Article.objects.get()
    assert article.slug == "support-hours"
    assert len(callbacks) == 1


def test_uploading_a_docx_shows_an_error_and_keeps_the_other_fields(admin_client):
    upload = SimpleUploadedFile("handbook.docx", b"PK\x03\x04 a word document")

    response = admin_client.post(
        ADD_URL,
        form_data(
            title="Employee handbook",
            slug="handbook",
            source_url="https://example.com/handbook",
            file=upload,
        ),
    )

    assert response.status_code == 200
    assert "unsupported file type .docx" in errors_of(response)
    assert not Article.objects.exists()
    assert 'value="Employee handbook"' in response.text
    assert 'value="handbook"' in response.text
    assert 'value="https://example.com/handbook"' in response.text
    # The editor is not also told to write a body: the file error is the one to fix.
    assert "Write the article here" not in response.text


def test_posting_neither_a_body_nor_a_file_is_an_error(admin_client):
    response = admin_client.post(ADD_URL, form_data(title="Empty article"))

    assert response.status_code == 200
    assert "Write the article here or upload a file." in errors_of(response)
    assert not Article.objects.exists()


def test_an_unreadable_pdf_upload_shows_why(admin_client):
    upload = SimpleUploadedFile("manual.pdf", b"definitely not a pdf")

    response = admin_client.post(ADD_URL, form_data(file=upload))

    assert response.status_code == 200
    assert "manual.pdf could not be read as a PDF" in errors_of(response)
    assert not Article.objects.exists()


def test_an_oversized_file_is_rejected(admin_client, settings):
    settings.KB_UPLOAD_MAX_BYTES = 100
    upload = SimpleUploadedFile("big.md", b"# Big\n\n" + b"word " * 100)

    response = admin_client.post(ADD_URL, form_data(file=upload))

    assert response.status_code == 200
    assert "big.md is larger than" in errors_of(response)
    assert not Article.objects.exists()


def test_the_oversize_message_states_a_meaningful_limit(admin_client, settings):
    settings.KB_UPLOAD_MAX_BYTES = 500 * 1024
    upload = SimpleUploadedFile("big.md", b"# Big\n\n" + b"word " * 120_000)

    response = admin_client.post(ADD_URL, form_data(file=upload))

    assert "big.md is larger than" in errors_of(response)
    assert "larger than 0 MB" not in errors_of(response)


def test_a_title_without_latin_letters_does_not_save_an_empty_slug(admin_client):
    response = admin_client.post(ADD_URL, form_data(title="退款政策", body="十四天内全额退款。"))

    assert not Article.objects.filter(slug="").exists(), response.status_code


def test_the_changelist_shows_chunk_counts(admin_client, demo_kb):
    response = admin_client.get(CHANGELIST_URL)

    assert response.status_code == 200
    counts = {
        html.unescape(title): int(count)
        for title, count in re.findall(
            r'<a href="/admin/knowledge/article/\d+/change/">([^<]+)</a>.*?'
            r'<td class="field-chunk_count"><a href="[^"]+"[^>]*>(\d+)</a></td>',
            response.text,
            re.S,
        )
    }
    assert len(counts) == len(demo_kb)
    for article in demo_kb:
        assert counts[article.title] == article.chunks.count() > 0
