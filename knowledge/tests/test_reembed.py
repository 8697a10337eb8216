"""manage.py reembed: switching EMBEDDING_MODEL without a moment of empty retrieval."""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from knowledge.indexes import (
    embedding_index_activate_if_complete,
    embedding_index_build,
    embedding_index_progress,
    embedding_index_purge,
)
from knowledge.models import Article, Chunk, EmbeddingIndex
from knowledge.retrieval import embed, query_for, retrieve
from knowledge.selectors import live_indexes
from knowledge.services import article_embed
from knowledge.tests import second_model
from knowledge.tests.conftest import wait_for

State = EmbeddingIndex.State
QUESTION = "how do I get my money back for the annual plan"


@pytest.fixture(scope="session")
def new_model(tmp_path_factory) -> str:
    return second_model.build(tmp_path_factory.mktemp("models") / "minilm-256")


@pytest.fixture
def worker_env(new_model) -> dict[str, str]:
    # The worker is started with the new model configured, as after a deploy; a short grace
    # period lets the test see the old vectors purged.
    return {"EMBEDDING_MODEL": new_model, "REEMBED_GRACE_SECONDS": "3"}


class Prober(threading.Thread):
    """Asks the same question over and over while the switch runs, like customers do."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.results: list[tuple[str, int, str]] = []
        self.errors: list[BaseException] = []

    def run(self):
        try:
            while not self.stop.is_set():
                found = retrieve(embedded=embed(query_for(question=QUESTION)))
                index = EmbeddingIndex.objects.filter(state=State.ACTIVE).first()
                top = found.chunks[0].article.slug if found.chunks else ""
                self.results.append((index.model_name if index else "", len(found.chunks), top))
                self.stop.wait(0.02)  # leave the worker some CPU
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.errors.append(exc)
        finally:
            connection.close()


@pytest.mark.django_db(transaction=True)
def test_reembed_switches_models_without_a_moment_where_retrieval_returns_nothing(
    demo_kb, settings, new_model, worker
):
    old = EmbeddingIndex.objects.get()
    settings.EMBEDDING_MODEL = new_model
    prober = Prober()
    prober.start()
    out = io.StringIO()

    call_command("reembed", timeout=240, stdout=out)
    # The prober's first question after the switch loads the new model first (seconds on
    # a busy machine): let it finish one before stopping it, or the switch goes unseen.
    wait_for(lambda: any(m == new_model for m, _, _ in prober.results), worker, timeout=60)

    prober.stop.set()
    prober.join(timeout=30)
    assert not prober.errors
    models_seen = [model for model, _, _ in prober.results]
    assert old.model_name in models_seen and new_model in models_seen
    # Every single answer during the switch found chunks, and the right article.
    assert all(n > 0 for _, n, _ in prober.results), prober.results
    assert {top for _, _, top in prober.results} == {"cancel-downgrade-and-refunds"}
    new = EmbeddingIndex.objects.get(model_name=new_model)
    assert new.state == State.ACTIVE and new.dimensions == second_model.DIMENSIONS
    assert embedding_index_progress(index=new) == (20, 20)
    assert all(len(c.embedding) == 256 for c in Chunk.objects.filter(index=new)[:5])
    assert set(Article.objects.values_list("embedding_model", flat=True)) == {new_model}
    assert "queued" in out.getvalue() and "Done" in out.getvalue()
    # After the grace period the old vectors are deleted by the worker.
    wait_for(lambda: not EmbeddingIndex.objects.filter(pk=old.pk).exists(), worker, timeout=60)
    assert Chunk.objects.exclude(index=new).count() == 0


def test_the_old_index_answers_until_the_new_one_is_complete(
    demo_kb, settings, new_model, django_capture_on_commit_callbacks
):
    old = EmbeddingIndex.objects.get()
    settings.EMBEDDING_MODEL = new_model
    with django_capture_on_commit_callbacks(execute=False) as queued_tasks:
        new, queued = embedding_index_build(model_name=new_model)
    assert new.state == State.BUILDING and len(queued) == 20 == len(queued_tasks)

    for article_id in queued[:-1]:
        article_embed(article_id=article_id, index_id=new.pk)
        found = retrieve(embedded=embed(query_for(question=QUESTION)))
        assert found.chunks and all(c.index_id == old.pk for c in found.chunks)
    assert EmbeddingIndex.objects.get(pk=new.pk).state == State.BUILDING

    with django_capture_on_commit_callbacks(execute=False) as purge:
        article_embed(article_id=queued[-1], index_id=new.pk)

    assert EmbeddingIndex.objects.get(pk=new.pk).state == State.ACTIVE
    assert EmbeddingIndex.objects.get(pk=old.pk).state == State.RETIRED
    assert len(purge) == 1  # the old vectors go after the grace period
    found = retrieve(embedded=embed(query_for(question=QUESTION)))
    assert found.chunks[0].index_id == new.pk
    assert found.chunks[0].article.slug == "cancel-downgrade-and-refunds"


def test_an_article_edited_during_a_switch_is_embedded_into_both_indexes(
    demo_kb, settings, new_model, django_capture_on_commit_callbacks
):
    old = EmbeddingIndex.objects.get()
    settings.EMBEDDING_MODEL = new_model
    with django_capture_on_commit_callbacks(execute=False):
        new, _ = embedding_index_build(model_name=new_model)
    article = demo_kb[0]
    article.body += "\n\n## Webhooks\n\nWebhooks retry failed deliveries five times.\n"
    article.save()

    article_embed(article_id=article.pk)

    for index in (old, new):
        assert Chunk.objects.filter(index=index, article=article, heading="Webhooks").exists()
    assert EmbeddingIndex.objects.get(pk=new.pk).state == State.BUILDING  # 19 still to do


def test_an_article_changed_after_it_was_embedded_holds_the_switch_back(
    demo_kb, settings, new_model, django_capture_on_commit_callbacks
):
    settings.EMBEDDING_MODEL = new_model
    with django_capture_on_commit_callbacks(execute=False):
        new, queued = embedding_index_build(model_name=new_model)
    first, *rest = queued
    article_embed(article_id=first, index_id=new.pk)
    Article.objects.filter(pk=first).update(body="Changed after it was embedded.")
    for article_id in rest:
        article_embed(article_id=article_id, index_id=new.pk)

    assert not embedding_index_activate_if_complete(index_id=new.pk)
    assert EmbeddingIndex.objects.get(pk=new.pk).state == State.BUILDING
    article_embed(article_id=first, index_id=new.pk)  # what the edit's own task does
    assert EmbeddingIndex.objects.get(pk=new.pk).state == State.ACTIVE


def test_reembed_with_the_same_model_queues_only_what_is_stale(demo_kb):
    Article.objects.filter(pk=demo_kb[0].pk).update(body="New text.")
    out = io.StringIO()

    call_command("reembed", no_wait=True, stdout=out)

    assert "1 article(s) queued" in out.getvalue()
    assert EmbeddingIndex.objects.get().state == State.ACTIVE


def test_reembed_force_queues_every_article(demo_kb):
    out = io.StringIO()

    call_command("reembed", no_wait=True, force=True, stdout=out)

    assert "20 article(s) queued" in out.getvalue()


def test_a_new_switch_abandons_an_unfinished_one(
    demo_kb, new_model, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        first, _ = embedding_index_build(model_name=new_model)
    other = second_model.build(tmp_path / "minilm-128", dimensions=128)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second, _ = embedding_index_build(model_name=other)

    first.refresh_from_db()
    assert first.state == State.RETIRED and second.state == State.BUILDING
    assert [i.model_name for i in live_indexes()] == [demo_kb[0].embedding_model, other]
    assert len(callbacks) == 21  # 20 articles, and the purge of the abandoned index


def test_purging_removes_only_a_retired_index_and_is_safe_to_repeat(demo_kb):
    active = EmbeddingIndex.objects.get()

    assert embedding_index_purge(index_id=active.pk) is False
    assert Chunk.objects.filter(index=active).exists()
    EmbeddingIndex.objects.filter(pk=active.pk).update(state=State.RETIRED)
    assert embedding_index_purge(index_id=active.pk) is True
    assert embedding_index_purge(index_id=active.pk) is False
    assert not Chunk.objects.exists()
