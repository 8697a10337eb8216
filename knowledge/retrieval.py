"""The product's retrieval decision, shared by the chat and by `eval_retrieval`:
which query to search with, which chunks come back, and whether the evidence is strong
enough to answer at all."""

import logging
from dataclasses import dataclass

from django.conf import settings

from knowledge import embeddings
from knowledge.selectors import CANDIDATES, SearchResult, search

logger = logging.getLogger(__name__)
MODES = ("dense", "hybrid", "hybrid+rerank")


@dataclass
class Retrieval:
    query: str
    chunks: list
    best_similarity: float
    refused: bool


def retrieval_query(*, question: str, history: list[dict], rewrite: bool | None = None) -> str:
    """The text to search with. A follow-up such as "and how do I undo that?" names
    nothing, so the previous question is prepended: a string join, no LLM call, which is
    the cheapest rewrite there is. `eval_retrieval` measures what it buys."""
    if rewrite is None:
        rewrite = settings.RETRIEVAL_FOLLOWUP_REWRITE
    if rewrite and history:
        return f"{history[-1]['user']} {question}"
    return question


def retrieve(
    *,
    question: str,
    history: list[dict],
    mode: str = "",
    limit: int | None = None,
    question_embedding: list[float] | None = None,
    rewrite: bool | None = None,
) -> Retrieval:
    mode = mode or settings.RETRIEVAL_MODE
    limit = limit or settings.RETRIEVAL_TOP_K
    query = retrieval_query(question=question, history=history, rewrite=rewrite)
    embedding = question_embedding if query == question and question_embedding else None
    embedding = embedding or embeddings.embed_query(query)
    if mode == "hybrid+rerank":
        result = _reranked(query, embedding, limit)
    else:
        result = search(embedding=embedding, text=query, limit=limit, mode=mode)
    refused = result.best_similarity < settings.RETRIEVAL_MIN_SIMILARITY
    return Retrieval(query, result.chunks, result.best_similarity, refused)


def _reranked(query: str, embedding: list[float], limit: int) -> SearchResult:
    pool = search(embedding=embedding, text=query, limit=min(CANDIDATES, 4 * limit), mode="hybrid")
    scores = embeddings.rerank(query, [c.embedding_text() for c in pool.chunks])
    if scores is not None:
        ranked = sorted(zip(scores, pool.chunks, strict=True), key=lambda p: p[0], reverse=True)
        pool.chunks = [chunk for _, chunk in ranked]
    pool.chunks = pool.chunks[:limit]
    return pool
