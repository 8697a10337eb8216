"""Automated sampling of answers into the human review queue."""

import random
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chat.models import Conversation, Message, ReviewSample


def review_sample(*, share: float, idle_minutes: int, rng: random.Random | None = None) -> int:
    """Consider every conversation idle for `idle_minutes` and not yet considered; draw
    `share` of them and queue each of their answers for review. Returns answers queued."""
    rng = rng or random.Random()
    cutoff = timezone.now() - timedelta(minutes=idle_minutes)
    queued = 0
    with transaction.atomic():
        finished = list(
            Conversation.objects.select_for_update(skip_locked=True)
            .filter(sampled_at__isnull=True, updated_at__lt=cutoff)
            .filter(Exists(Message.objects.filter(conversation=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
        drawn = [pk for pk in finished if rng.random() < share]
        answers = Message.objects.filter(
            conversation_id__in=drawn, role=Message.Role.ASSISTANT, review__isnull=True
        )
        queued = len(
            ReviewSample.objects.bulk_create(
                [ReviewSample(message=m) for m in answers], ignore_conflicts=True
            )
        )
        Conversation.objects.filter(pk__in=finished).update(sampled_at=timezone.now())
    return queued
