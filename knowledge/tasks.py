from celery import shared_task

from knowledge.indexes import embedding_index_purge
from knowledge.services import article_embed


@shared_task(soft_time_limit=240, time_limit=300)
def embed_article(article_id: int, index_id: int | None = None) -> bool:
    # Idempotent (content hash), so a redelivery after a worker crash costs nothing.
    return article_embed(article_id=article_id, index_id=index_id)


@shared_task(soft_time_limit=240, time_limit=300)
def purge_index(index_id: int) -> bool:
    return embedding_index_purge(index_id=index_id)
