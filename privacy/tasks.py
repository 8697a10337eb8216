from dataclasses import asdict

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from privacy.retention import conversation_purge_expired


@shared_task(soft_time_limit=540, time_limit=600)
def purge_old_conversations() -> dict[str, int]:
    # Safe to run twice: what is deleted is gone and what is anonymised is marked. Batches
    # commit one by one, so a run stopped by the time limit is finished by the next one.
    purged = conversation_purge_expired(now=timezone.now(), days=settings.CHAT_RETENTION_DAYS)
    return asdict(purged)
