"""Automated sampling of answers into the human review queue."""

import random
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chat.models import Conversation, Message, ReviewSample
from chat.redaction import redact


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
        messages = Message.objects.filter(conversation_id__in=drawn).order_by(
            "conversation_id", "created_at", "id"
        )
        queued = len(ReviewSample.objects.bulk_create(_samples(messages), ignore_conflicts=True))
        Conversation.objects.filter(pk__in=finished).update(sampled_at=timezone.now())
    return queued


def _samples(messages: Iterable[Message]) -> list[ReviewSample]:
    """One sample per answer, with the question before it; both redacted, because the
    queue is read by reviewers who need the answer's quality, not the customer's data."""
    samples, question, conversation_id = [], "", None
    for message in messages:
        if message.conversation_id != conversation_id:
            question, conversation_id = "", message.conversation_id
        if message.role == Message.Role.USER:
            question = message.text
        elif message.role == Message.Role.ASSISTANT:
            samples.append(
                ReviewSample(
                    message=message, question=redact(question), answer=redact(message.text)
                )
            )
    return samples
