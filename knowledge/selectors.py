"""Reads from the knowledge base."""

from pgvector.django import CosineDistance

from knowledge.models import Article, Chunk


def chunk_search(*, embedding: list[float], limit: int) -> list[Chunk]:
    """The `limit` chunks closest to `embedding`, nearest first.

    Each chunk carries `distance` (cosine, 0 = identical) and its article. There is
    deliberately no filter on the article's status: while an edited article is being
    re-embedded its old chunks keep answering, and they are swapped in one transaction.
    """
    return list(
        Chunk.objects.select_related("article")
        .annotate(distance=CosineDistance("embedding", embedding))
        .order_by("distance")[:limit]
    )


def article_count() -> int:
    return Article.objects.count()
