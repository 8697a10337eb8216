"""knowledge's one door for the chat, and the product's retrieval decision (shared with
`eval_retrieval`): which query to search with, which chunks come back, and whether the
evidence is strong enough to answer at all.

The chat's path: `query_for` the question (with the previous user turn, for a follow-up),
`aembed` it with the serving index's model, then `retrieve` on a database thread. Each
step is done once: retrieve() searches with the vector it is given and never embeds the
query again, so the caller decides when a changed query needs a new vector.
"""

import logging
from dataclasses import dataclass

from django.conf import settings

from knowledge import calibration, embeddings
from knowledge.models import Chunk, EmbeddingIndex
from knowledge.selectors import CANDIDATES, SearchResult, aserving_index, search, serving_index

logger = logging.getLogger(__name__)
MODES = ("dense", "hybrid", "hybrid+rerank")
RERANK = "+rerank"

# The names the chat types with: an index whose model embeds questions, and a chunk found.
Index = EmbeddingIndex
__all__ = [
    "MODES",
    "SERVING",
    "Chunk",
    "EmbeddedQuery",
    "Index",
    "Query",
    "Retrieval",
    "aembed",
    "aserving_index",
    "default_mode",
    "embed",
    "min_similarity",
    "query_for",
    "retrieve",
    "same_index",
    "serving_index",
]


def default_mode() -> str:
    """What customers' answers use: RETRIEVAL_MODE, reranked when a cross-encoder is set."""
    return settings.RETRIEVAL_MODE + (RERANK if settings.RERANK_MODEL else "")


@dataclass(frozen=True)
class Query:
    """What one question is searched with."""

    question: str  # the customer's words
    text: str  # what is embedded and searched: the question, or previous question + question


def query_for(*, question: str, previous: str = "", rewrite: bool | None = None) -> Query:
    """The query for `question`; `previous` is the previous user turn's text ("" if none).

    A follow-up such as "and how do I undo that?" names nothing, so the previous question
    is prepended: a string join, no LLM call, which is the cheapest rewrite there is.
    `eval_retrieval` measures what it buys."""
    if rewrite is None:
        rewrite = settings.RETRIEVAL_FOLLOWUP_REWRITE
    if rewrite and previous:
        return Query(question, f"{previous} {question}")
    return Query(question, question)


@dataclass
class EmbeddedQuery:
    """A query, its vector, and the index whose model made it: the two must match."""

    query: Query
    index: Index | None
    vector: list[float]


class _Serving:
    def __repr__(self) -> str:
        return "SERVING"


# embed()'s default index: the serving one, looked up per call.
SERVING = _Serving()


def same_index(a: Index | None, b: Index | None) -> bool:
    """Whether a vector made for index `a` can search index `b`."""
    return a is not None and b is not None and (a.pk, a.model_name) == (b.pk, b.model_name)


async def aembed(query: Query, *, index: Index | None | _Serving = SERVING) -> EmbeddedQuery:
    """Embed `query.text` with `index`'s model (the serving index by default: the old one
    until a switch completes). No index: nothing to search, so nothing is embedded."""
    if index is SERVING:
        index = await aserving_index()
    if index is None:
        return EmbeddedQuery(query, None, [])
    vector = await embeddings.aembed_query(query.text, model=index.model_name)
    return EmbeddedQuery(query, index, vector)


def embed(query: Query, *, index: Index | None | _Serving = SERVING) -> EmbeddedQuery:
    """aembed, for a thread that may block."""
    if index is SERVING:
        index = serving_index()
    if index is None:
        return EmbeddedQuery(query, None, [])
    return EmbeddedQuery(query, index, embeddings.embed_query(query.text, model=index.model_name))


def min_similarity(index: Index | None = None) -> float:
    """The refusal threshold of `index` (the serving one by default)."""
    return calibration.min_similarity(index if index is not None else serving_index())


@dataclass
class Retrieval:
    query: Query
    chunks: list[Chunk]
    best_similarity: float
    refused: bool
    reranked: bool = False


def retrieve(
    *,
    embedded: EmbeddedQuery,
    mode: str = "",
    limit: int | None = None,
    collection: int | None = None,
) -> Retrieval:
    """The chunks that answer `embedded`'s query in its index, and whether to refuse.
    With a `collection` id (a site's, widget.Site.collection) only that collection's
    articles answer: a question only another collection answers finds weak evidence, and
    is refused as any unanswerable question is. Blocking (a database thread): it searches,
    and for a follow-up embeds the question alone to judge whether it is off topic."""
    mode = mode or default_mode()
    limit = limit or settings.RETRIEVAL_TOP_K
    query, index, vector = embedded.query, embedded.index, embedded.vector
    base, reranked = mode.removesuffix(RERANK), False
    if mode.endswith(RERANK):
        result, reranked = _reranked(query.text, vector, limit, index, base, collection)
    else:
        result = search(
            embedding=vector,
            text=query.text,
            limit=limit,
            mode=base,
            index=index,
            collection=collection,
        )
    best = result.best_similarity
    refused = best < calibration.min_similarity(index) or _off_topic(embedded, best)
    return Retrieval(query, result.chunks, best, refused, reranked)


def _off_topic(embedded: EmbeddedQuery, best: float) -> bool:
    """Judged on the question alone: a follow-up borrows the previous question's words to
    find its article, but an unrelated question must not borrow its evidence too."""
    query, index = embedded.query, embedded.index
    if index is None:
        return False
    if query.text != query.question:
        embedded = embed(Query(query.question, query.question), index=index)
        best = calibration.nearest_similarity(embedded.vector, index)
    return calibration.off_topic(embedded.vector, best_similarity=best, index=index)


def _reranked(
    text: str,
    embedding: list[float],
    limit: int,
    index: Index | None,
    mode: str,
    collection: int | None,
) -> tuple[SearchResult, bool]:
    """The mode's candidates in the cross-encoder's order, and whether it ran: one that
    cannot load leaves them in the mode's order."""
    pool = search(
        embedding=embedding,
        text=text,
        limit=min(CANDIDATES, 4 * limit),
        mode=mode,
        index=index,
        collection=collection,
    )
    scores = embeddings.rerank(text, [c.embedding_text() for c in pool.chunks])
    if scores is not None:
        ranked = sorted(zip(scores, pool.chunks, strict=True), key=lambda p: p[0], reverse=True)
        pool.chunks = [chunk for _, chunk in ranked]
    pool.chunks = pool.chunks[:limit]
    return pool, scores is not None
