"""A worker killed (SIGKILL) in the middle of embedding: the article stays whole, either
all old chunks or all new ones, and the task is delivered again and finishes."""

import time

import pytest

from helpdesk.testing import stop_process
from knowledge.models import Article, Chunk
from knowledge.services import article_embed, article_schedule_embedding
from knowledge.tests.conftest import start_worker, wait_for

# Long enough that embedding it takes a while on a CPU: the kill lands mid-task.
SECTIONS = 1000


def _body(word: str) -> str:
    return "\n\n".join(
        f"## {word} section {i}\n\n{word} paragraph {i} explains setting {i} of the product "
        f"in detail, with the steps an admin follows to change it and what happens next."
        for i in range(SECTIONS)
    )


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_the_article_whole_and_the_task_is_retried(tmp_path):
    article = Article.objects.create(title="Settings", slug="settings", body=_body("Old"))
    article_embed(article_id=article.pk)
    old_ids = set(Chunk.objects.filter(article=article).values_list("pk", flat=True))
    article.body = _body("New")
    article.save()
    article_schedule_embedding(article=article)  # enqueued: no transaction to wait for

    log = tmp_path / "worker.log"
    # A short visibility timeout stands in for the production one (CELERY_VISIBILITY_TIMEOUT).
    env = {"CELERY_VISIBILITY_TIMEOUT": "5"}
    first = start_worker(log, **env)
    wait_for(lambda: "embed_article" in log.read_text() and "received" in log.read_text(), log)
    time.sleep(1.5)
    first.kill()
    first.wait()

    chunks = list(Chunk.objects.filter(article=article))
    texts = " ".join(c.text for c in chunks)
    assert {c.pk for c in chunks} == old_ids, "the task must not have finished yet"
    assert "New paragraph" not in texts

    second = start_worker(log, **env)
    try:
        wait_for(
            lambda: (
                Article.objects.get(pk=article.pk).status == Article.Status.READY
                and Chunk.objects.filter(article=article, text__contains="New paragraph").exists()
            ),
            log,
            timeout=180,
        )
    finally:
        stop_process(second)
    chunks = list(Chunk.objects.filter(article=article))
    assert not {c.pk for c in chunks} & old_ids
    assert not any("Old paragraph" in c.text for c in chunks)
    assert [c.position for c in sorted(chunks, key=lambda c: c.position)] == list(
        range(len(chunks))
    )
