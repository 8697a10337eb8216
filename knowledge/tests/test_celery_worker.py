"""Through a real Celery worker process, connected to the test database and Redis."""

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import transaction

from conftest import child_env
from knowledge.models import Article, Chunk
from knowledge.services import article_schedule_embedding
from knowledge.tasks import embed_article

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(tmp_path):
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=settings.BASE_DIR, env=child_env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    yield log
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for(check, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"Timed out; worker log:\n{log.read_text()[-3000:]}")


def _succeeded(log) -> list[str]:
    return [line for line in log.read_text().splitlines() if "succeeded in" in line]


def test_editing_an_article_reembeds_it_once_and_leaves_no_stale_chunks(worker):
    with transaction.atomic():
        article = Article.objects.create(
            title="Pausing a project",
            slug="pausing",
            body="# Pausing a project\n\n## How\n\nOpen the project and choose Pause. "
            "Paused projects keep their tasks but stop sending reminders.",
        )
        article_schedule_embedding(article=article)
    _wait_for(lambda: Article.objects.get(pk=article.pk).status == "ready", worker)
    first_ids = set(Chunk.objects.filter(article=article).values_list("id", flat=True))
    assert first_ids

    article.refresh_from_db()
    with transaction.atomic():
        article.body = "# Pausing a project\n\n## How\n\nProjects can be archived instead."
        article.save()
        article_schedule_embedding(article=article)
    _wait_for(lambda: len(_succeeded(worker)) == 2, worker)

    article.refresh_from_db()
    assert article.status == "ready"
    chunks = list(Chunk.objects.filter(article=article))
    assert first_ids.isdisjoint(c.id for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert not any("reminders" in c.text for c in chunks)
    assert any("archived" in c.text for c in chunks)
    assert all(line.endswith(": True") for line in _succeeded(worker))

    # A redelivered task finds nothing to do: same chunks, same timestamp.
    embedded_at = article.embedded_at
    embed_article.delay(article.pk)
    _wait_for(lambda: len(_succeeded(worker)) == 3, worker)
    assert _succeeded(worker)[-1].endswith(": False")
    article.refresh_from_db()
    assert article.embedded_at == embedded_at
    assert {c.id for c in chunks} == set(
        Chunk.objects.filter(article=article).values_list("id", flat=True)
    )
