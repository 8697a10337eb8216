"""Retrieval scoped to a site's collection (widget.Site.collection): only that
collection's articles answer, in every retrieval mode; without one, the whole KB."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge.models import Article, Collection
from knowledge.retrieval import embed, query_for, retrieve

MODES = ["dense", "hybrid", "hybrid+rerank"]
BILLING = {
    "cancel-downgrade-and-refunds",
    "invoices-and-receipts",
    "payment-method-and-failed-payments",
    "plans-and-pricing",
}


@pytest.fixture
def billing(demo_kb) -> Collection:
    collection = Collection.objects.create(name="Billing", slug="billing")
    Article.objects.filter(slug__in=BILLING).update(collection=collection)
    return collection


def ask(question: str, *, mode: str, collection: int | None = None, limit: int = 10):
    return retrieve(
        embedded=embed(query_for(question=question)), mode=mode, limit=limit, collection=collection
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_question_of_another_collection_gets_nothing_from_outside_the_sites_collection(
    billing, mode
):
    found = ask("How do I reset my password?", mode=mode, collection=billing.pk)

    assert {c.article.slug for c in found.chunks} <= BILLING
    # Weak evidence, as for any question the KB cannot answer.
    assert found.refused


@pytest.mark.parametrize("mode", MODES)
def test_a_question_the_collection_answers_finds_its_article(billing, mode):
    found = ask("Can I get a refund for my annual plan?", mode=mode, collection=billing.pk)

    assert found.chunks[0].article.slug == "cancel-downgrade-and-refunds"
    assert {c.article.slug for c in found.chunks} <= BILLING
    assert not found.refused


@pytest.mark.parametrize("mode", MODES)
def test_without_a_collection_the_whole_knowledge_base_answers_as_before(billing, mode):
    found = ask("How do I reset my password?", mode=mode)

    assert found.chunks[0].article.slug == "reset-password"
    assert not found.refused
    assert len({c.article.slug for c in found.chunks} - BILLING) > 0


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_a_search_without_a_collection_runs_no_collection_filter(billing, mode):
    with CaptureQueriesContext(connection) as queries:
        ask("How do I reset my password?", mode=mode)
    assert not any("collection_id" in q["sql"] for q in queries.captured_queries)


def test_an_unpublished_article_of_the_collection_still_answers_no_one(billing):
    Article.objects.filter(slug="cancel-downgrade-and-refunds").update(published=False)
    found = ask("Can I get a refund for my annual plan?", mode="hybrid", collection=billing.pk)
    assert "cancel-downgrade-and-refunds" not in {c.article.slug for c in found.chunks}


def test_an_empty_collection_finds_nothing_and_refuses(demo_kb):
    empty = Collection.objects.create(name="Empty", slug="empty")
    for mode in MODES:
        found = ask("Can I get a refund for my annual plan?", mode=mode, collection=empty.pk)
        assert found.chunks == []
        assert found.refused
