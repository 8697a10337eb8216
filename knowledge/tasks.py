from datetime import timedelta

from celery import shared_task
from django.conf import settings

from knowledge.indexes import embedding_index_purge
from knowledge.services import article_embed, article_requeue_stale
from knowledge.uploads import upload_file_process, upload_file_requeue_stale


@shared_task(soft_time_limit=240, time_limit=300)
def embed_article(article_id: int, index_id: int | None = None) -> bool:
    # Idempotent (content hash), so a redelivery after a worker crash costs nothing.
    return article_embed(article_id=article_id, index_id=index_id)


@shared_task(soft_time_limit=240, time_limit=300)
def purge_index(index_id: int) -> bool:
    return embedding_index_purge(index_id=index_id)


@shared_task(
    soft_time_limit=settings.KB_EXTRACT_SOFT_TIME_LIMIT, time_limit=settings.KB_EXTRACT_TIME_LIMIT
)
def process_upload_file(upload_file_id: int) -> str:
    # Idempotent: only a pending row is read, and it is checked again under a lock.
    return upload_file_process(upload_file_id=upload_file_id)


@shared_task(soft_time_limit=120, time_limit=150)
def requeue_stale_work() -> dict[str, int]:
    # Beat, every KB_REQUEUE_EVERY_SECONDS. Safe to run twice: each requeued row is claimed.
    older_than = timedelta(minutes=settings.KB_STALE_PENDING_MINUTES)
    return {
        "articles": article_requeue_stale(older_than=older_than),
        "upload_files": upload_file_requeue_stale(older_than=older_than),
    }
