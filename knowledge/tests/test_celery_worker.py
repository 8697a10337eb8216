"""Through a real Celery worker process, connected to the test database and Redis."""

import pytest
from django.db import transaction

from knowledge.models import Article, Chunk
from knowledge.services import article_schedule_embedding
from knowledge.tasks import embed_article
from knowledge.tests.conftest import wait_for as _wait_for

pytestmark = pytest.mark.django_db(transaction=True)


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
