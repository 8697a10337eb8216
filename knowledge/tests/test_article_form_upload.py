"""A file uploaded on an article's own admin form is read by a real Celery worker, as a bulk
upload's files are: the request only checks and stores it, the old body stays live until
the file is read, the editor sees the file's status on the article's page, and a file that
cannot be read (corrupt, or over the time limit) leaves the article as it was."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.testing import stop_process
from knowledge.models import Article, Chunk, UploadFile
from knowledge.selectors import article_public_list
from knowledge.services import article_embed
from knowledge.tests.conftest import start_worker, wait_for
from knowledge.tests.test_admin_upload import REFUNDS_MD, form_data
from knowledge.tests.test_extract import tiny_pdf
from knowledge.tests.test_upload_limits import _slow_html, _start_prefork_worker

pytestmark = pytest.mark.django_db(transaction=True)

ADD_URL = "/admin/knowledge/article/add/"
OLD_BODY = "# Refund policy\n\nAnnual plans are refunded in full within fourteen days."
NEW_HTML = b"""<html><head><title>Refunds</title></head><body><h1>Refunds</h1>
<p>Annual plans are refunded in full within thirty days of purchase.</p></body></html>"""


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _text(response) -> str:
    """The page as read: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", response.content.decode())).split())


def _embedded_article() -> Article:
    """An article that answers customers: embedded with its old body."""
    article = Article.objects.create(title="Refund policy", slug="refund-policy", body=OLD_BODY)
    article_embed(article_id=article.pk)
    article.refresh_from_db()
    assert article.status == Article.Status.READY
    return article


def _upload_onto(client, article: Article, name: str, data: bytes):
    fields = form_data(title=article.title, slug=article.slug, body=article.body, published="on")
    return client.post(
        f"/admin/knowledge/article/{article.pk}/change/",
        fields | {"file": SimpleUploadedFile(name, data)},
        follow=True,
    )


def _all_read() -> bool:
    return not UploadFile.objects.filter(status=UploadFile.Status.PENDING).exists()


def _change_page(client, article: Article) -> str:
    return _text(client.get(f"/admin/knowledge/article/{article.pk}/change/"))


def test_a_new_article_from_a_file_is_read_published_and_embedded_by_the_worker(
    admin_client, tmp_path
):
    upload = SimpleUploadedFile("refund-policy.md", REFUNDS_MD)
    response = admin_client.post(ADD_URL, form_data(file=upload, published="on"), follow=True)

    # Right after the request: nothing read, nothing public, a file waiting for a worker.
    article = Article.objects.get()
    assert (article.body, article.published) == ("", False)
    assert not article_public_list().exists()
    row = UploadFile.objects.get()
    assert (row.status, row.target) == ("pending", article)
    status_url = reverse("admin:knowledge_article_upload_status", args=[row.upload_id])
    assert "The file refund-policy.md is being read by a worker" in _text(response)
    assert f'<a href="{status_url}">See the file’s status</a>' in response.content.decode()
    assert "refund-policy.md: pending" in _change_page(admin_client, article)

    log = tmp_path / "worker.log"
    proc = start_worker(log)
    try:
        wait_for(lambda: Article.objects.get(pk=article.pk).status == "ready", log)
    finally:
        stop_process(proc)

    article.refresh_from_db()
    assert (article.title, article.published) == ("Refund policy", True)
    assert "fourteen days" in article.body
    assert Chunk.objects.filter(article=article, text__contains="fourteen days").exists()
    assert article_public_list().filter(pk=article.pk).exists()
    assert "refund-policy.md: read" in _change_page(admin_client, article)


def test_a_new_file_on_an_existing_article_replaces_its_body_only_once_read(admin_client, tmp_path):
    article = _embedded_article()

    response = _upload_onto(admin_client, article, "refunds.html", NEW_HTML)

    assert "its current text stays live until then" in _text(response)
    article.refresh_from_db()
    # The old text still answers customers while the file waits.
    assert (article.body, article.status, article.published) == (OLD_BODY, "ready", True)
    assert Chunk.objects.filter(article=article, text__contains="fourteen days").exists()
    log = tmp_path / "worker.log"
    proc = start_worker(log)
    try:
        wait_for(
            lambda: Chunk.objects.filter(article=article, text__contains="thirty days").exists(),
            log,
        )
    finally:
        stop_process(proc)

    article.refresh_from_db()
    assert "thirty days" in article.body
    assert article.title == "Refund policy"  # the editor's, not the file's
    assert not Chunk.objects.filter(article=article, text__contains="fourteen days").exists()


def test_a_corrupt_pdf_leaves_the_old_body_and_the_article_page_shows_it_failed(
    admin_client, worker
):
    article = _embedded_article()
    corrupt = tiny_pdf("Refunds take thirty days.")[:200]

    response = _upload_onto(admin_client, article, "manual.pdf", corrupt)
    wait_for(_all_read, worker)

    assert response.status_code == 200
    article.refresh_from_db()
    assert (article.body, article.status, article.published) == (OLD_BODY, "ready", True)
    assert Chunk.objects.filter(article=article, text__contains="fourteen days").exists()
    page = _change_page(admin_client, article)
    assert "manual.pdf: failed: manual.pdf could not be read as a PDF" in page


def test_a_file_over_the_time_limit_leaves_the_old_body_and_shows_it_failed(
    admin_client, settings, tmp_path
):
    article = _embedded_article()
    # As in production, the web (which queues) and the worker read the same limits.
    settings.KB_EXTRACT_SOFT_TIME_LIMIT, settings.KB_EXTRACT_TIME_LIMIT = 1, 30
    log = tmp_path / "worker.log"
    proc = _start_prefork_worker(log, KB_EXTRACT_SOFT_TIME_LIMIT="1", KB_EXTRACT_TIME_LIMIT="30")
    try:
        _upload_onto(admin_client, article, "slow.html", _slow_html())
        wait_for(_all_read, log, timeout=60)
    finally:
        stop_process(proc)

    article.refresh_from_db()
    assert (article.body, article.status, article.published) == (OLD_BODY, "ready", True)
    page = _change_page(admin_client, article)
    assert "slow.html: failed: slow.html took longer than 1 s to read" in page
