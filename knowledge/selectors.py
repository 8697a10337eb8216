"""Reads from the knowledge base: the retrieval behind every answer."""

import re
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from knowledge.models import Article, Chunk, EmbeddingIndex

# Reciprocal rank fusion's constant: 60 is the value from Cormack et al. (2009) and what
# most hybrid-search engines ship; it damps the weight of the very first ranks.
RRF_K = 60
# How many candidates each retriever contributes to the fusion.
CANDIDATES = 40
WORD = re.compile(r"[a-z0-9]+")

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
# the articles in a second query, was ~4 of the dense search's ~10 ms (benchmarks/README.md,
# "Fourth round"). Any other field still loads if asked for (a deferred field).
CHUNK_COLUMNS = "c.id, c.article_id, c.index_id, c.position, c.heading, c.anchor, c.text"
# In the model's field order, which Model.from_db expects.
ARTICLE_FIELDS = ("id", "title", "slug", "source_url", "status", "published")
SEARCH_COLUMNS = CHUNK_COLUMNS + "".join(f", a.{name} AS a_{name}" for name in ARTICLE_FIELDS)

# {dims} and {index_id} are integers formatted in, not parameters: the partial HNSW index
# of each embedding index is on `embedding::vector(dims) WHERE index_id = N`, and the
# planner only uses it when the query repeats both literally.
DENSE_SQL = """
SELECT {columns}, c.embedding::vector({dims}) <=> %(embedding)s AS distance
FROM knowledge_chunk c JOIN knowledge_article a
    ON a.id = c.article_id AND a.published AND a.status <> %(held_back)s
WHERE c.index_id = {index_id}
ORDER BY c.embedding::vector({dims}) <=> %(embedding)s LIMIT %(limit)s
"""

HYBRID_SQL = """
WITH dense AS (
    SELECT c.id, c.embedding::vector({dims}) <=> %(embedding)s AS distance
    FROM knowledge_chunk c JOIN knowledge_article a
        ON a.id = c.article_id AND a.published AND a.status <> %(held_back)s
    WHERE c.index_id = {index_id}
    ORDER BY c.embedding::vector({dims}) <=> %(embedding)s LIMIT {candidates}
), dense_ranked AS (
    SELECT id, distance, row_number() OVER (ORDER BY distance) AS rank FROM dense
), query AS (
    SELECT string_agg(quote_literal(t.lexeme), ' | ')::tsquery AS q
    FROM unnest(to_tsvector('english', %(words)s)) t
    WHERE t.lexeme <> ALL(%(common)s::text[])
), sparse AS (
    SELECT c.id, row_number() OVER (ORDER BY ts_rank_cd(c.search_vector, query.q) DESC) AS rank
    FROM knowledge_chunk c JOIN knowledge_article a
        ON a.id = c.article_id AND a.published AND a.status <> %(held_back)s, query
    WHERE c.index_id = {index_id} AND c.search_vector @@ query.q
    ORDER BY ts_rank_cd(c.search_vector, query.q) DESC LIMIT {candidates}
), fused AS (
    SELECT id, SUM(weight / ({rrf_k} + rank)) AS score
    FROM (SELECT id, rank, 1.0 AS weight FROM dense_ranked
          UNION ALL SELECT id, rank, %(sparse_weight)s AS weight FROM sparse) ranks
    GROUP BY id
)
SELECT {columns}, f.score, c.embedding::vector({dims}) <=> %(embedding)s AS distance,
       (SELECT min(distance) FROM dense) AS best_distance
FROM fused f JOIN knowledge_chunk c ON c.id = f.id JOIN knowledge_article a ON a.id = c.article_id
ORDER BY f.score DESC, distance
LIMIT %(limit)s
"""


# (read at, for which database and cap, the lexemes): see common_lexemes.
_common: tuple[float, tuple, list[str]] = (float("-inf"), (), [])


def common_lexemes(*, max_matches: int) -> list[str]:
    """The lexemes full text leaves out (COMMON_LEXEMES_SQL), read once per process and
    kept RETRIEVAL_COMMON_WORDS_SECONDS. They change only when ANALYZE runs, and reading
    pg_stats inside every search cost ~1.7 ms of its planning and execution. A stale list
    for a while only moves which words count as this KB's stop words."""
    global _common
    read_at, key, lexemes = _common
    wanted = (connection.settings_dict["NAME"], max_matches)
    if key != wanted or time.monotonic() - read_at > settings.RETRIEVAL_COMMON_WORDS_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute(COMMON_LEXEMES_SQL, {"max_matches": max_matches})
            lexemes = [lexeme for (lexeme,) in cursor.fetchall()]
        _common = (time.monotonic(), wanted, lexemes)
    return lexemes


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


def chunk_search(*, embedding: list[float], limit: int, index: EmbeddingIndex) -> list[Chunk]:
    """The `limit` chunks of `index` closest to `embedding`, nearest first (dense search).

    Each chunk carries `distance` (cosine, 0 = identical) and its article. Only published
    articles count, and not one held back for review (its text addresses the assistant).
    There is deliberately no filter on the other statuses: while an edited article is
    re-embedded its old chunks keep answering, swapped in one transaction.
    """
    sql = DENSE_SQL.format(
        columns=SEARCH_COLUMNS, dims=int(index.dimensions), index_id=int(index.pk)
    )
    params = {
        "embedding": _vector(embedding),
        "limit": limit,
        "held_back": Article.Status.FLAGGED.value,
    }
    return _with_articles(Chunk.objects.raw(sql, params))


def _with_articles(rows) -> list[Chunk]:
    """The chunks of a search's rows, each with its article built from the same row."""
    chunks = list(rows)
    for chunk in chunks:
        values = [getattr(chunk, f"a_{name}") for name in ARTICLE_FIELDS]
        chunk.article = Article.from_db(rows.db, ARTICLE_FIELDS, values)
    return chunks


def fulltext_words(text: str) -> str:
    """The question's words, which HYBRID_SQL matches as an OR query.

    OR, not AND: a customer's question shares only some words with the article that
    answers it (with 100k chunks an AND query matched nothing for 51 of 55 dev questions).
    Postgres stems the words and drops stop words itself. It also leaves out a word that
    its statistics (ANALYZE) say more than RETRIEVAL_SPARSE_MAX_MATCHES chunks hold:
    ranking costs ~7 µs per matching chunk, and a word that common tells the ranking
    least, like a stop word of this knowledge base. Small KBs never reach the cap."""
    words = dict.fromkeys(w for w in WORD.findall(text.lower()) if len(w) > 1)
    return " ".join(words)


def hybrid_search(
    *, embedding: list[float], text: str, limit: int, index: EmbeddingIndex
) -> SearchResult:
    """Dense (HNSW, cosine) and full-text results fused by reciprocal rank, in one query."""
    terms = fulltext_words(text)
    if not terms:  # nothing for full text to match: the vector side alone
        return search(embedding=embedding, text=text, limit=limit, mode="dense", index=index)
    sql = HYBRID_SQL.format(
        columns=SEARCH_COLUMNS,
        dims=int(index.dimensions),
        index_id=int(index.pk),
        candidates=CANDIDATES,
        rrf_k=RRF_K,
    )
    chunks = _with_articles(
        Chunk.objects.raw(
            sql,
            {
                "embedding": _vector(embedding),
                "words": terms,
                "common": common_lexemes(max_matches=settings.RETRIEVAL_SPARSE_MAX_MATCHES),
                "limit": limit,
                "sparse_weight": settings.RETRIEVAL_SPARSE_WEIGHT,
                "held_back": Article.Status.FLAGGED.value,
            },
        )
    )
    best = 1 - chunks[0].best_distance if chunks else 0.0
    return SearchResult(chunks, best)


def search(
    *, embedding: list[float], text: str, limit: int, index: EmbeddingIndex | None, mode: str = ""
) -> SearchResult:
    if index is None:  # nothing embedded yet
        return SearchResult()
    mode = mode or settings.RETRIEVAL_MODE
    if mode == "hybrid":
        return hybrid_search(embedding=embedding, text=text, limit=limit, index=index)
    chunks = chunk_search(embedding=embedding, limit=limit, index=index)
    return SearchResult(chunks, 1 - chunks[0].distance if chunks else 0.0)


def _vector(embedding: list[float]) -> str:
    # pgvector's text form; psycopg passes it as a literal that casts to `vector`.
    return "[" + ",".join(f"{x:.7g}" for x in embedding) + "]"


def article_count() -> int:
    return Article.objects.count()
