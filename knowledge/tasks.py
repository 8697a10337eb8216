from celery import shared_task

from knowledge.services import article_embed


@shared_task(soft_time_limit=240, time_limit=300)
def embed_article(article_id: int) -> bool:
    # Idempotent (content hash), so a redelivery after a worker crash costs nothing.
    return article_embed(article_id=article_id)
