"""Reads from the knowledge base: the retrieval behind every answer."""

import re
import time
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from knowledge.models import Article, Chunk, EmbeddingIndex

# How many of the nearest chunks the full-text score may reorder.
CANDIDATES = 40
# BM25's usual constants (Robertson & Zaragoza): term-frequency saturation and how much a
# long chunk's length discounts its matches.
BM25_K1 = 1.2
BM25_B = 0.75
# Letters and digits of any alphabet: "bestätigen" is one word, not "best" and "tigen".
WORD = re.compile(r"[^\W_]+")

# The words full text leaves out: those Postgres's statistics (ANALYZE) find in more than
# RETRIEVAL_SPARSE_MAX_MATCHES chunks (see fulltext_words).
COMMON_LEXEMES_SQL = """
    SELECT e.lexeme
    FROM pg_stats s
    CROSS JOIN LATERAL unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs)
        AS e(lexeme, freq)  -- the frequencies run 3 longer: their lexeme is NULL
    WHERE s.schemaname = current_schema() AND s.tablename = 'knowledge_chunk'
      AND s.attname = 'search_vector' AND e.lexeme IS NOT NULL
      AND e.freq * (SELECT reltuples FROM pg_class WHERE oid = 'knowledge_chunk'::regclass)
          > %(max_matches)s
"""

# What an answer reads of a chunk and its article, fetched in the search's own query: not
# the vector, the tsvector or the article's body. At 100k chunks fetching all of them, and
# the articles in a second query, was a large part of the dense search's time
# (docs/decisions/0011). Any other field still loads if asked for (a deferred field).
CHUNK_COLUMNS = "c.id, c.article_id, c.index_id, c.position, c.heading, c.anchor, c.text"
# In the model's field order, which Model.from_db expects.
ARTICLE_FIELDS = ("id", "title", "slug", "source_url", "status", "published")
SEARCH_COLUMNS = CHUNK_COLUMNS + "".join(f", a.{name} AS a_{name}" for name in ARTICLE_FIELDS)

# {dims} and {index_id} are integers formatted in, not parameters: the partial HNSW index
# of each embedding index is on `embedding::vector(dims) WHERE index_id = N`, and the
# planner only uses it when the query repeats both literally. {scope} is "" or
# COLLECTION_SCOPE, so a search without a collection runs the same SQL as before there
# were any.
DENSE_SQL = """
SELECT {columns}, c.embedding::vector({dims}) <=> %(embedding)s AS distance
FROM knowledge_chunk c JOIN knowledge_article a
    ON a.id = c.article_id AND a.published AND a.status <> %(held_back)s{scope}
WHERE c.index_id = {index_id}
ORDER BY c.embedding::vector({dims}) <=> %(embedding)s LIMIT %(limit)s
"""

# Hybrid: the dense candidates, each scored by its cosine similarity plus a BM25 score of
# the question's words (weighted by how rare each word is in this index), divided by the
# question's total word weight so that a score means the same for short and long questions.
# Why not reciprocal rank fusion of two lists: a rank says nothing of how well a chunk
# matched, so a chunk that shares one common word with the question could outvote the
# nearest chunk by meaning (docs/decisions/0002-retrieval-that-transfers.md).
HYBRID_SQL = """
WITH dense AS (
    SELECT c.id, c.search_vector, c.embedding::vector({dims}) <=> %(embedding)s AS distance
    FROM knowledge_chunk c JOIN knowledge_article a
        ON a.id = c.article_id AND a.published AND a.status <> %(held_back)s{scope}
    WHERE c.index_id = {index_id}
    ORDER BY c.embedding::vector({dims}) <=> %(embedding)s LIMIT {candidates}
), terms AS (
    SELECT t.lexeme, ln(1 + (%(chunks)s - df.n + 0.5) / (df.n + 0.5)) AS idf
    FROM unnest(to_tsvector(%(search_config)s::regconfig, %(words)s)) t
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM knowledge_chunk c
        WHERE c.index_id = {index_id} AND c.search_vector @@ quote_literal(t.lexeme)::tsquery
    ) df
    WHERE t.lexeme <> ALL(%(common)s::text[])
), lexical AS (
    SELECT d.id, sum(terms.idf * f.tf * ({k1} + 1) / (f.tf + {k1} * (1 - {b} + {b}
           * length(d.search_vector) / %(avg_length)s))) AS bm25
    FROM dense d
    CROSS JOIN LATERAL unnest(d.search_vector) u
    JOIN terms ON terms.lexeme = u.lexeme
    CROSS JOIN LATERAL (SELECT coalesce(array_length(u.positions, 1), 1) AS tf) f
    GROUP BY d.id
)
SELECT {columns}, d.distance, (SELECT min(distance) FROM dense) AS best_distance,
       1 - d.distance + %(sparse_weight)s * coalesce(l.bm25, 0)
           / greatest((SELECT sum(idf) FROM terms), 1e-9) AS score
FROM dense d JOIN knowledge_chunk c ON c.id = d.id JOIN knowledge_article a ON a.id = c.article_id
LEFT JOIN lexical l ON l.id = d.id
ORDER BY score DESC, d.distance
LIMIT %(limit)s
"""

# A site's collection (widget.Site.collection): only its articles answer. A filter on the
# HNSW scan, which hnsw.iterative_scan (settings.py) continues until it has enough rows.
# A word's weight (terms) stays the whole index's: the collection's would cost a join per
# word, and moves a rare word's weight little.
COLLECTION_SCOPE = " AND a.collection_id = %(collection)s"

# BM25's document count and average length. The length is the mean over a sample of chunks:
# over all 100k chunks' tsvectors it took ~65 ms, where the count takes ~7.
INDEX_SIZE_SQL = """
SELECT (SELECT count(*) FROM knowledge_chunk WHERE index_id = %(index_id)s),
       (SELECT coalesce(avg(length(s.search_vector)), 1) FROM (
            SELECT search_vector FROM knowledge_chunk WHERE index_id = %(index_id)s LIMIT 2000
        ) s)
"""


class Kept:
    """What a process has read about the KB, by (database, *key), with when: values read
    once and then kept RETRIEVAL_COMMON_WORDS_SECONDS, because what they say changes
    slowly, and a search that read them every time would pay for it on every question."""

    def __init__(self) -> None:
        self._values: dict[tuple, tuple[float, object]] = {}

    def get(self, key: tuple, read):
        """`read()`'s value, read again once it is older than RETRIEVAL_COMMON_WORDS_SECONDS."""
        key = (connection.settings_dict["NAME"], *key)
        read_at, value = self._values.get(key, (float("-inf"), None))
        if time.monotonic() - read_at > settings.RETRIEVAL_COMMON_WORDS_SECONDS:
            value = read()
            self._values[key] = (time.monotonic(), value)
        return value

    def clear(self) -> None:
        self._values.clear()


_kept = Kept()


def kept() -> Kept:
    """The process's kept reads."""
    return _kept


def common_lexemes(*, max_matches: int) -> list[str]:
    """The lexemes full text leaves out (COMMON_LEXEMES_SQL). They change only when ANALYZE
    runs, and reading pg_stats inside every search cost ~1.7 ms of its planning and
    execution. A stale list for a while only moves which words count as this KB's stop
    words."""

    def read() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(COMMON_LEXEMES_SQL, {"max_matches": max_matches})
            return [lexeme for (lexeme,) in cursor.fetchall()]

    return _kept.get(("common words", max_matches), read)


def index_size(*, index: EmbeddingIndex) -> tuple[int, float]:
    """How many chunks the index has, and their mean number of distinct words: BM25's
    document count and average length. An estimate a few minutes old changes a word's
    weight very little."""

    def read() -> tuple[int, float]:
        with connection.cursor() as cursor:
            cursor.execute(INDEX_SIZE_SQL, {"index_id": index.pk})
            count, average = cursor.fetchone()
        return int(count), float(average) or 1.0

    return _kept.get(("index size", index.pk), read)


@dataclass
class SearchResult:
    chunks: list[Chunk] = field(default_factory=list)
    # Cosine similarity of the closest chunk: the calibrated evidence score that decides
    # whether to answer at all (rank-fusion scores are not comparable across questions).
    best_similarity: float = 0.0


def article_public_list():
    """The articles customers may read on /kb/: published, and not held back (a held-back
    article's text addresses the assistant). The searches below apply the same rule."""
    return Article.objects.filter(published=True).exclude(status=Article.Status.FLAGGED)


def serving_index() -> EmbeddingIndex | None:
    """The index that answers customers; None before anything is embedded.

    Looked up per question (a primary-key-sized read): a process-local cache would keep
    embedding questions with the old model after a switch."""
    return EmbeddingIndex.objects.filter(state=EmbeddingIndex.State.ACTIVE).first()


async def aserving_index() -> EmbeddingIndex | None:
    return await EmbeddingIndex.objects.filter(state=EmbeddingIndex.State.ACTIVE).afirst()


def live_indexes() -> list[EmbeddingIndex]:
    """The indexes new vectors go to: the active one first, then one being built. None
    before anything is embedded (indexes.live_indexes_ensure creates the first)."""
    return list(
        EmbeddingIndex.objects.exclude(state=EmbeddingIndex.State.RETIRED).order_by("state")
    )


def chunk_search(
    *, embedding: list[float], limit: int, index: EmbeddingIndex, collection: int | None = None
) -> list[Chunk]:
    """The `limit` chunks of `index` closest to `embedding`, nearest first (dense search);
    with a `collection` id, only chunks of that collection's articles.

    Each chunk carries `distance` (cosine, 0 = identical) and its article. Only published
    articles count, and not one held back for review (its text addresses the assistant).
    There is deliberately no filter on the other statuses: while an edited article is
    re-embedded its old chunks keep answering, swapped in one transaction.
    """
    sql = DENSE_SQL.format(
        columns=SEARCH_COLUMNS,
        dims=int(index.dimensions),
        index_id=int(index.pk),
        scope=_scope(collection),
    )
    params = {
        "embedding": _vector(embedding),
        "limit": limit,
        "held_back": Article.Status.FLAGGED.value,
        "collection": collection,
    }
    return _with_articles(Chunk.objects.raw(sql, params))


def _scope(collection: int | None) -> str:
    return "" if collection is None else COLLECTION_SCOPE


def _with_articles(rows) -> list[Chunk]:
    """The chunks of a search's rows, each with its article built from the same row."""
    chunks = list(rows)
    for chunk in chunks:
        values = [getattr(chunk, f"a_{name}") for name in ARTICLE_FIELDS]
        chunk.article = Article.from_db(rows.db, ARTICLE_FIELDS, values)
    return chunks


def fulltext_words(text: str) -> str:
    """The question's words, which HYBRID_SQL weighs with BM25.

    Postgres stems them and drops stop words itself. It also leaves out a word that its
    statistics (ANALYZE) say more than RETRIEVAL_SPARSE_MAX_MATCHES chunks hold: counting
    that word's chunks for its weight is the slowest part of the query, and a word that
    common would weigh next to nothing. Small KBs never reach the cap."""
    # Composed first: a letter and its accent typed as two characters are one letter.
    text = unicodedata.normalize("NFC", text.lower())
    words = dict.fromkeys(w for w in WORD.findall(text) if len(w) > 1)
    return " ".join(words)


def hybrid_search(
    *,
    embedding: list[float],
    text: str,
    limit: int,
    index: EmbeddingIndex,
    collection: int | None = None,
) -> SearchResult:
    """The dense candidates reordered by similarity plus BM25 (HYBRID_SQL), in one query;
    with a `collection` id, only chunks of that collection's articles. The question's
    words are stemmed with KB_SEARCH_CONFIG, as the chunks' are (Chunk.search_config)."""
    terms = fulltext_words(text)
    if not terms:  # nothing for full text to match: the vector side alone
        return search(
            embedding=embedding,
            text=text,
            limit=limit,
            mode="dense",
            index=index,
            collection=collection,
        )
    sql = HYBRID_SQL.format(
        scope=_scope(collection),
        columns=SEARCH_COLUMNS,
        dims=int(index.dimensions),
        index_id=int(index.pk),
        candidates=CANDIDATES,
        k1=BM25_K1,
        b=BM25_B,
    )
    chunks_in_index, avg_length = index_size(index=index)
    params = {
        "embedding": _vector(embedding),
        "words": terms,
        "common": common_lexemes(max_matches=settings.RETRIEVAL_SPARSE_MAX_MATCHES),
        "chunks": chunks_in_index,
        "avg_length": avg_length,
        "limit": limit,
        "sparse_weight": settings.RETRIEVAL_SPARSE_WEIGHT,
        "held_back": Article.Status.FLAGGED.value,
        "search_config": settings.KB_SEARCH_CONFIG,
        "collection": collection,
    }
    chunks = _with_articles(Chunk.objects.raw(sql, params))
    best = 1 - chunks[0].best_distance if chunks else 0.0
    return SearchResult(chunks, best)


def search(
    *,
    embedding: list[float],
    text: str,
    limit: int,
    index: EmbeddingIndex | None,
    mode: str = "",
    collection: int | None = None,
) -> SearchResult:
    """A search in `mode` (RETRIEVAL_MODE by default); with a `collection` id, of that
    collection's articles alone."""
    if index is None:  # nothing embedded yet
        return SearchResult()
    mode = mode or settings.RETRIEVAL_MODE
    if mode == "hybrid":
        return hybrid_search(
            embedding=embedding, text=text, limit=limit, index=index, collection=collection
        )
    chunks = chunk_search(embedding=embedding, limit=limit, index=index, collection=collection)
    return SearchResult(chunks, 1 - chunks[0].distance if chunks else 0.0)


def _vector(embedding: list[float]) -> str:
    # pgvector's text form; psycopg passes it as a literal that casts to `vector`.
    return "[" + ",".join(f"{x:.7g}" for x in embedding) + "]"


def article_count() -> int:
    return Article.objects.count()
