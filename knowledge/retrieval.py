"""The product's retrieval decision, shared by the chat and by `eval_retrieval`:
which query to search with, which chunks come back, and whether the evidence is strong
enough to answer at all."""

import logging
from dataclasses import dataclass

from django.conf import settings

from knowledge import calibration, embeddings
from knowledge.models import EmbeddingIndex
from knowledge.selectors import CANDIDATES, SearchResult, aserving_index, search, serving_index

logger = logging.getLogger(__name__)
MODES = ("dense", "hybrid", "hybrid+rerank")
RERANK = "+rerank"


def default_mode() -> str:
    """What customers' answers use: RETRIEVAL_MODE, reranked when a cross-encoder is set."""
    return settings.RETRIEVAL_MODE + (RERANK if settings.RERANK_MODEL else "")


@dataclass
class QueryEmbedding:
    """A text's vector, and the index whose model made it: the two must match."""

    index: EmbeddingIndex | None
    vector: list[float]
    text: str = ""


def embed_question(text: str, *, index: EmbeddingIndex | None) -> QueryEmbedding:
    model = index.model_name if index else ""
    return QueryEmbedding(index, embeddings.embed_query(text, model=model), text)


async def aembed_question(text: str, *, index: EmbeddingIndex | None = None) -> QueryEmbedding:
    """Embed with the serving index's model (the old one until a switch completes)."""
    if index is None:
        index = await aserving_index()
    model = index.model_name if index else ""
    return QueryEmbedding(index, await embeddings.aembed_query(text, model=model), text)


def min_similarity(index: EmbeddingIndex | None = None) -> float:
    """The refusal threshold of `index` (the serving one by default)."""
    return calibration.min_similarity(index if index is not None else serving_index())


@dataclass
class Retrieval:
    query: str
    chunks: list
    best_similarity: float
    refused: bool
    reranked: bool = False


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
    question_embedding: QueryEmbedding | None = None,
    rewrite: bool | None = None,
) -> Retrieval:
    mode = mode or default_mode()
    limit = limit or settings.RETRIEVAL_TOP_K
    query = retrieval_query(question=question, history=history, rewrite=rewrite)
    embedded = question_embedding
    # The caller may pass the vector of the question, or already that of the rewritten
    # query (chat/answering.py embeds it off the database thread); anything else is redone.
    if embedded is None or (embedded.text or question) != query:
        index = embedded.index if embedded else serving_index()
        embedded = embed_question(query, index=index)
    index, embedding = embedded.index, embedded.vector
    base, reranked = mode.removesuffix(RERANK), False
    if mode.endswith(RERANK):
        result, reranked = _reranked(query, embedding, limit, index, base)
    else:
        result = search(embedding=embedding, text=query, limit=limit, mode=base, index=index)
    refused = result.best_similarity < calibration.min_similarity(index) or _off_topic(
        question, query, embedded, result.best_similarity
    )
    return Retrieval(query, result.chunks, result.best_similarity, refused, reranked)


def _off_topic(question: str, query: str, embedded: QueryEmbedding, best: float) -> bool:
    """Judged on the question alone: a follow-up borrows the previous question's words to
    find its article, but an unrelated question must not borrow its evidence too."""
    index = embedded.index
    if index is None:
        return False
    if query != question:
        embedded = embed_question(question, index=index)
        best = calibration.nearest_similarity(embedded.vector, index)
    return calibration.off_topic(embedded.vector, best_similarity=best, index=index)


def _reranked(
    query: str, embedding: list[float], limit: int, index: EmbeddingIndex | None, mode: str
) -> tuple[SearchResult, bool]:
    """The mode's candidates in the cross-encoder's order, and whether it ran: one that
    cannot load leaves them in the mode's order."""
    pool = search(
        embedding=embedding,
        text=query,
        limit=min(CANDIDATES, 4 * limit),
        mode=mode,
        index=index,
    )
    scores = embeddings.rerank(query, [c.embedding_text() for c in pool.chunks])
    if scores is not None:
        ranked = sorted(zip(scores, pool.chunks, strict=True), key=lambda p: p[0], reverse=True)
        pool.chunks = [chunk for _, chunk in ranked]
    pool.chunks = pool.chunks[:limit]
    return pool, scores is not None


# --- TEMPORARY door shim (replaced by the knowledge branch's door) ---------------------------
@dataclass(frozen=True)
class Query:
    question: str
    text: str


def query_for(*, question: str, previous: str = "", rewrite: bool | None = None) -> Query:
    history = [{"user": previous}] if previous else []
    return Query(question, retrieval_query(question=question, history=history, rewrite=rewrite))


@dataclass
class EmbeddedQuery:
    query: Query
    index: EmbeddingIndex | None
    vector: list[float]


async def aembed(query: Query, *, index: EmbeddingIndex | None) -> EmbeddedQuery:
    if index is None:
        return EmbeddedQuery(query, None, [])
    embedded = await aembed_question(query.text, index=index)
    return EmbeddedQuery(query, index, embedded.vector)


def retrieve_embedded(*, embedded: EmbeddedQuery, mode: str = "", limit: int | None = None):
    q = embedded.query
    history = [{"user": q.text[: -len(q.question) - 1]}] if q.text != q.question else []
    return retrieve(
        question=q.question,
        history=history,
        mode=mode,
        limit=limit,
        question_embedding=QueryEmbedding(embedded.index, embedded.vector, q.text),
    )


Index = EmbeddingIndex
