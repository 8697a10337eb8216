"""Reads from the knowledge base: the retrieval behind every answer."""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import prefetch_related_objects
from pgvector.django import CosineDistance

from knowledge.models import Article, Chunk

# Reciprocal rank fusion's constant: 60 is the value from Cormack et al. (2009) and what
# most hybrid-search engines ship; it damps the weight of the very first ranks.
RRF_K = 60
# How many candidates each retriever contributes to the fusion.
CANDIDATES = 40
WORD = re.compile(r"[a-z0-9]+")

HYBRID_SQL = f"""
WITH dense AS (
    SELECT c.id, c.embedding <=> %(embedding)s AS distance
    FROM knowledge_chunk c JOIN knowledge_article a ON a.id = c.article_id AND a.published
    ORDER BY c.embedding <=> %(embedding)s LIMIT {CANDIDATES}
), dense_ranked AS (
    SELECT id, distance, row_number() OVER (ORDER BY distance) AS rank FROM dense
), sparse AS (
    SELECT c.id, row_number() OVER (ORDER BY ts_rank_cd(c.search_vector, q) DESC) AS rank
    FROM knowledge_chunk c JOIN knowledge_article a ON a.id = c.article_id AND a.published,
         to_tsquery('english', %(tsquery)s) q
    WHERE c.search_vector @@ q
    ORDER BY ts_rank_cd(c.search_vector, q) DESC LIMIT {CANDIDATES}
), fused AS (
    SELECT id, SUM(weight / ({RRF_K} + rank)) AS score
    FROM (SELECT id, rank, 1.0 AS weight FROM dense_ranked
          UNION ALL SELECT id, rank, %(sparse_weight)s AS weight FROM sparse) ranks
    GROUP BY id
)
SELECT c.*, f.score, c.embedding <=> %(embedding)s AS distance,
       (SELECT min(distance) FROM dense) AS best_distance
FROM fused f JOIN knowledge_chunk c ON c.id = f.id
ORDER BY f.score DESC, distance
LIMIT %(limit)s
"""


@dataclass
class SearchResult:
    chunks: list[Chunk] = field(default_factory=list)
    # Cosine similarity of the closest chunk: the calibrated evidence score that decides
    # whether to answer at all (rank-fusion scores are not comparable across questions).
    best_similarity: float = 0.0


def chunk_search(*, embedding: list[float], limit: int) -> list[Chunk]:
    """The `limit` chunks closest to `embedding`, nearest first (plain dense search).

    Each chunk carries `distance` (cosine, 0 = identical) and its article. Only published
    articles count. There is deliberately no filter on the embedding status: while an
    edited article is re-embedded its old chunks keep answering, swapped in one transaction.
    """
    return list(
        Chunk.objects.filter(article__published=True)
        .select_related("article")
        .annotate(distance=CosineDistance("embedding", embedding))
        .order_by("distance")[:limit]
    )


def tsquery_terms(text: str) -> str:
    """An OR query of the question's words, for Postgres' to_tsquery.

    OR, not AND: a customer's question shares only some words with the article that
    answers it. Postgres stems the words and drops stop words itself."""
    words = dict.fromkeys(w for w in WORD.findall(text.lower()) if len(w) > 1)
    return " | ".join(words)


def hybrid_search(*, embedding: list[float], text: str, limit: int) -> SearchResult:
    """Dense (HNSW, cosine) and full-text results fused by reciprocal rank, in one query."""
    terms = tsquery_terms(text)
    if not terms:  # nothing for full text to match: the vector side alone
        return search(embedding=embedding, text=text, limit=limit, mode="dense")
    chunks = list(
        Chunk.objects.raw(
            HYBRID_SQL,
            {
                "embedding": _vector(embedding),
                "tsquery": terms,
                "limit": limit,
                "sparse_weight": settings.RETRIEVAL_SPARSE_WEIGHT,
            },
        )
    )
    prefetch_related_objects(chunks, "article")
    best = 1 - chunks[0].best_distance if chunks else 0.0
    return SearchResult(chunks, best)


def search(*, embedding: list[float], text: str, limit: int, mode: str = "") -> SearchResult:
    mode = mode or settings.RETRIEVAL_MODE
    if mode == "hybrid":
        return hybrid_search(embedding=embedding, text=text, limit=limit)
    chunks = chunk_search(embedding=embedding, limit=limit)
    return SearchResult(chunks, 1 - chunks[0].distance if chunks else 0.0)


def _vector(embedding: list[float]) -> str:
    # pgvector's text form; psycopg passes it as a literal that casts to `vector`.
    return "[" + ",".join(f"{x:.7g}" for x in embedding) + "]"


def article_count() -> int:
    return Article.objects.count()
