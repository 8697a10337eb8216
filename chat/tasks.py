from celery import shared_task
from django.conf import settings

from chat.review import Shares, review_sample


@shared_task(soft_time_limit=120, time_limit=150)
def sample_for_review() -> int:
    # Safe to run twice: each conversation is considered once (Conversation.sampled_at).
    return review_sample(shares=Shares.from_settings(), idle_minutes=settings.REVIEW_IDLE_MINUTES)
