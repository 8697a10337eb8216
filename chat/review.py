"""Automated sampling of answers into the human review queue.

Reviewers' time goes where the trouble is: each answer is drawn by what it is, every kind
at its own share (REVIEW_SHARE_* in docs/configuration.md). A thumbs-down is always worth
a look, a low-groundedness answer may have invented a price, a refusal may be a gap or a
threshold set too high, an injection refusal may be a false positive; the rest is drawn at
random, so the queue also sees what looks fine.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chat.models import Conversation, Message, ReviewSample
from chat.redaction import redact

Reason = ReviewSample.Reason
# Only what the draw needs: the texts are read afterwards, for the drawn answers alone.
DRAW_FIELDS = ["pk", "conversation_id", "role", "feedback", "groundedness", "refused", "screened"]


@dataclass(frozen=True)
class Shares:
    """The share of each kind of answer drawn (0 never, 1 always), one field per
    ReviewSample.Reason value; the defaults are the settings' (helpdesk/settings/answers.py)."""

    thumbs_down: float
    low_groundedness: float
    refused: float
    injection: float
    random: float
    # Below this groundedness an answer is of the low-groundedness kind.
    groundedness_below: float

    @classmethod
    def from_settings(cls) -> "Shares":
        return cls(
            thumbs_down=settings.REVIEW_SHARE_THUMBS_DOWN,
            low_groundedness=settings.REVIEW_SHARE_LOW_GROUNDEDNESS,
            refused=settings.REVIEW_SHARE_REFUSED,
            injection=settings.REVIEW_SHARE_INJECTION,
            random=settings.REVIEW_SHARE_RANDOM,
            groundedness_below=settings.REVIEW_GROUNDEDNESS_BELOW,
        )

    def draw(self, kinds: list[str]) -> float:
        """The share an answer of these kinds is drawn at: the highest of its kinds', and
        never below an ordinary answer's, so trouble is never reviewed less than the rest
        (and REVIEW_SAMPLE_SHARE=1, "review everything", still reviews everything)."""
        return max([getattr(self, kind) for kind in kinds] + [self.random])


def review_sample(*, shares: Shares, idle_minutes: int, rng: random.Random | None = None) -> int:
    """Consider every conversation idle for `idle_minutes` and not yet considered, once;
    draw its answers by kind at `shares` and queue them for review. Returns answers queued."""
    rng = rng or random.Random()
    cutoff = timezone.now() - timedelta(minutes=idle_minutes)
    with transaction.atomic():
        finished = list(
            Conversation.objects.select_for_update(skip_locked=True)
            .filter(sampled_at__isnull=True, updated_at__lt=cutoff)
            .filter(Exists(Message.objects.filter(conversation=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
        rows = (
            Message.objects.filter(conversation_id__in=finished)
            .order_by("conversation_id", "created_at", "id")
            .values(*DRAW_FIELDS)
        )
        drawn = _draw(rows, shares, rng)
        samples = _samples(drawn)
        queued = len(ReviewSample.objects.bulk_create(samples, ignore_conflicts=True))
        Conversation.objects.filter(pk__in=finished).update(sampled_at=timezone.now())
    return queued


def kinds_of(answer: dict, *, question_screened: bool, groundedness_below: float) -> list[str]:
    """The answer's kinds, the most troubling first (Reason's order); none for an ordinary one."""
    kinds = []
    if answer["feedback"] == "down":
        kinds.append(Reason.THUMBS_DOWN)
    # No score (a refusal, a fallback, an answer without content words) is not a low one.
    if answer["groundedness"] is not None and answer["groundedness"] < groundedness_below:
        kinds.append(Reason.LOW_GROUNDEDNESS)
    if answer["refused"]:
        # An injection refusal answers a question the screen flagged (chat/answering.py):
        # mostly attacks, rightly refused, so a kind of its own, at its own share.
        kinds.append(Reason.INJECTION if question_screened else Reason.REFUSED)
    return kinds


def _draw(rows, shares: Shares, rng: random.Random) -> dict[int, tuple[int | None, str]]:
    """{answer id: (its question's id, reason)} for the answers drawn; one rng draw each."""
    drawn, question, conversation_id = {}, None, None
    for row in rows:
        if row["conversation_id"] != conversation_id:
            question, conversation_id = None, row["conversation_id"]
        if row["role"] == Message.Role.USER:
            question = row
        elif row["role"] == Message.Role.ASSISTANT:
            kinds = kinds_of(
                row,
                question_screened=bool(question and question["screened"]),
                groundedness_below=shares.groundedness_below,
            )
            if rng.random() < shares.draw(kinds):
                reason = kinds[0] if kinds else Reason.RANDOM
                drawn[row["pk"]] = (question["pk"] if question else None, reason)
    return drawn


def _samples(drawn: dict[int, tuple[int | None, str]]) -> list[ReviewSample]:
    """One sample per drawn answer, with the question before it; both redacted, because
    the queue is read by reviewers who need the answer's quality, not the customer's data."""
    question_ids = {question_id for question_id, _ in drawn.values() if question_id}
    texts = dict(Message.objects.filter(pk__in=[*drawn, *question_ids]).values_list("pk", "text"))
    return [
        ReviewSample(
            message_id=answer_id,
            reason=reason,
            question=redact(texts.get(question_id, "")),
            answer=redact(texts[answer_id]),
        )
        for answer_id, (question_id, reason) in drawn.items()
    ]
