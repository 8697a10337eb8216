"""The Article admin: write an article or upload a file, and embedding is scheduled on commit.
A file is only checked (type, size) and stored in the request; a worker reads it
(knowledge/uploads.py), here run in-process: test_article_form_upload.py uses a real worker."""

import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader, PdfWriter

from knowledge.models import Article, UploadFile
from knowledge.selectors import article_public_list
from knowledge.tests.test_extract import tiny_pdf
from knowledge.uploads import upload_file_process

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


def read_files() -> None:
    """What the worker does with the files the form stored."""
    for pk in UploadFile.objects.filter(status="pending").values_list("pk", flat=True):
        upload_file_process(upload_file_id=pk)


def errors_of(response) -> str:
    """The text of every error list on the re-rendered form."""
    return " ".join(
        re.sub(r"<[^>]+>", " ", ul)
        for ul in re.findall(r'<ul class="errorlist[^"]*"[^>]*>.*?</ul>', response.text, re.S)
    )


def test_saving_the_form_with_a_file_stores_it_for_a_worker_and_reads_nothing_in_the_request(
    admin_client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("refund-policy.md", REFUNDS_MD, content_type="text/markdown")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(ADD_URL, form_data(file=upload, published="on"))

    assert response.status_code == 302, errors_of(response)
    article = Article.objects.get()
    assert article.body == ""  # not read yet
    assert article.title == "refund-policy.md"  # until the file gives it one
    assert article.slug == "refund-policy"
    assert article.file.name.startswith("articles/refund-policy")
    # No empty article is public meanwhile.
    assert not article.published
    assert not article_public_list().exists()
    row = UploadFile.objects.get()
    assert (row.status, row.target, bytes(row.data)) == ("pending", article, REFUNDS_MD)
    assert (row.fill_title, row.publish) == (True, True)
    assert len(callbacks) == 1  # the read; the worker queues the embedding after it


def test_once_read_the_new_article_gets_its_text_title_and_the_editors_published_choice(
    admin_client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("refund-policy.md", REFUNDS_MD)
    admin_client.post(ADD_URL, form_data(file=upload, published="on"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        read_files()

    article = Article.objects.get()
    assert article.title == "Refund policy"
    assert article.body == REFUNDS_MD.decode().strip()
    assert article.published
    assert article.status == Article.Status.PENDING
    assert len(callbacks) == 1  # its embedding


def test_a_new_article_left_unpublished_on_the_form_stays_unpublished_once_read(admin_client):
    upload = SimpleUploadedFile("refund-policy.md", REFUNDS_MD)
    admin_client.post(ADD_URL, form_data(file=upload))  # "published" unticked
    read_files()

    article = Article.objects.get()
    assert "fourteen days" in article.body
    assert not article.published


def test_a_title_and_slug_typed_by_the_editor_win_over_the_files(admin_client):
    upload = SimpleUploadedFile("refund-policy.md", REFUNDS_MD)

    response = admin_client.post(
        ADD_URL, form_data(title="Money back", slug="money-back", file=upload)
    )
    read_files()

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


def test_an_unreadable_pdf_upload_shows_why_on_the_articles_page(admin_client):
    upload = SimpleUploadedFile("manual.pdf", b"definitely not a pdf")

    response = admin_client.post(ADD_URL, form_data(file=upload, published="on"))
    read_files()

    assert response.status_code == 302, errors_of(response)
    article = Article.objects.get()
    assert article.status == Article.Status.FAILED
    assert "manual.pdf could not be read as a PDF" in article.error
    assert not article.published and article.body == ""
    page = admin_client.get(f"{CHANGELIST_URL}{article.pk}/change/").text
    assert "failed: manual.pdf could not be read as a PDF" in page


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


def test_a_pdf_over_the_page_limit_is_refused_by_the_form_as_by_the_bulk_upload(
    admin_client, settings
):
    settings.KB_PDF_MAX_PAGES = 2
    writer = PdfWriter()
    for _ in range(3):
        writer.add_page(PdfReader(io.BytesIO(tiny_pdf("Invoices are monthly."))).pages[0])
    data = io.BytesIO()
    writer.write(data)
    upload = SimpleUploadedFile("manual.pdf", data.getvalue())

    response = admin_client.post(ADD_URL, form_data(file=upload))
    read_files()

    assert response.status_code == 302, errors_of(response)
    assert UploadFile.objects.get().message.startswith("manual.pdf has 3 pages; at most 2 are")
    assert Article.objects.get().body == ""


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
