import logging

import pytest

from knowledge import embeddings
from knowledge.retrieval import retrieve


@pytest.fixture
def fresh_reranker(monkeypatch):
    # The reranker is loaded (or given up on) once per process; start from scratch.
    monkeypatch.setattr(embeddings, "_reranker", None)
    monkeypatch.setattr(embeddings, "_reranker_failed", False)


def test_retrieval_works_without_a_reranker_and_says_so_once(
    demo_kb, settings, fresh_reranker, caplog
):
    settings.RERANK_MODEL = "/nonexistent/cross-encoder"
    with caplog.at_level(logging.INFO, logger="knowledge.embeddings"):
        first = retrieve(question="refund for an annual plan", history=[], mode="hybrid+rerank")
        second = retrieve(question="reset my password", history=[], mode="hybrid+rerank")

    assert first.chunks[0].article.slug == "cancel-downgrade-and-refunds"
    assert second.chunks[0].article.slug == "reset-password"
    assert not first.reranked and not second.reranked
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1


def test_an_unset_reranker_is_reported_once_too(demo_kb, settings, fresh_reranker, caplog):
    settings.RERANK_MODEL = ""
    with caplog.at_level(logging.INFO, logger="knowledge.embeddings"):
        for _ in range(3):
            retrieve(question="invoices", history=[], mode="hybrid+rerank")
    assert len([r for r in caplog.records if "RERANK_MODEL is unset" in r.getMessage()]) == 1


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory) -> str:
    """A real cross-encoder on disk, built offline from the bundled MiniLM weights with a
    fresh (seeded) scoring head: not a good reranker, but loaded and run like one."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "cross-encoder"
    model = CrossEncoder(embeddings._model_path(embeddings.DEFAULT_MODEL), num_labels=1)
    model.save(str(path))
    return str(path)


def test_customers_answers_are_reranked_when_a_cross_encoder_is_set(
    demo_kb, settings, fresh_reranker, cross_encoder
):
    settings.RERANK_MODEL = cross_encoder
    # No mode: exactly how the chat calls it.
    found = retrieve(question="How do I reset my password?", history=[])
    assert found.reranked
    assert embeddings.reranker() is not None
    assert len(found.chunks) == settings.RETRIEVAL_TOP_K


def test_without_a_cross_encoder_answers_are_not_reranked(demo_kb, settings, fresh_reranker):
    settings.RERANK_MODEL = ""
    assert not retrieve(question="How do I reset my password?", history=[]).reranked
