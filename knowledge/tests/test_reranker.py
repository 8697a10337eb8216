import logging

import pytest

from knowledge import embeddings
from knowledge.retrieval import embed, query_for, retrieve


@pytest.fixture
def fresh_reranker():
    # The reranker is loaded (or given up on) once per process; start from scratch, and
    # leave none loaded from this test's RERANK_MODEL for the next.
    embeddings.reranker().forget()
    yield
    embeddings.reranker().forget()


def test_retrieval_works_without_a_reranker_and_says_so_once(
    demo_kb, settings, fresh_reranker, caplog
):
    settings.RERANK_MODEL = "/nonexistent/cross-encoder"
    with caplog.at_level(logging.INFO, logger="knowledge.embeddings"):
        first = retrieve(
            embedded=embed(query_for(question="refund for an annual plan")), mode="hybrid+rerank"
        )
        second = retrieve(
            embedded=embed(query_for(question="reset my password")), mode="hybrid+rerank"
        )

    assert first.chunks[0].article.slug == "cancel-downgrade-and-refunds"
    assert second.chunks[0].article.slug == "reset-password"
    assert not first.reranked and not second.reranked
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1


def test_an_unset_reranker_is_reported_once_too(demo_kb, settings, fresh_reranker, caplog):
    settings.RERANK_MODEL = ""
    with caplog.at_level(logging.INFO, logger="knowledge.embeddings"):
        for _ in range(3):
            retrieve(embedded=embed(query_for(question="invoices")), mode="hybrid+rerank")
    assert len([r for r in caplog.records if "RERANK_MODEL is unset" in r.getMessage()]) == 1


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory) -> str:
    """A real cross-encoder on disk, built offline from the bundled MiniLM weights with a
    fresh (seeded) scoring head: not a good reranker, but loaded and run like one."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "cross-encoder"
    model = CrossEncoder(embeddings.model_path(embeddings.DEFAULT_MODEL), num_labels=1)
    model.save(str(path))
    return str(path)


def test_customers_answers_are_reranked_when_a_cross_encoder_is_set(
    demo_kb, settings, fresh_reranker, cross_encoder
):
    settings.RERANK_MODEL = cross_encoder
    # No mode: exactly how the chat calls it.
    found = retrieve(embedded=embed(query_for(question="How do I reset my password?")))
    assert found.reranked
    assert embeddings.reranker().model() is not None
    assert len(found.chunks) == settings.RETRIEVAL_TOP_K


def test_without_a_cross_encoder_answers_are_not_reranked(demo_kb, settings, fresh_reranker):
    settings.RERANK_MODEL = ""
    assert not retrieve(embedded=embed(query_for(question="How do I reset my password?"))).reranked
