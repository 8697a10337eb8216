"""What the desk learns from its conversations: each conversation's outcome (a rollup the
dashboard reads, so it stays fast at any volume), and content gaps, the questions the
knowledge base could not answer, grouped into topics."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from chat.models import Conversation, Message
from knowledge.models import Article


class Outcome(models.Model):
    """One conversation, counted: written by the rollup (insights/rollup.py), again while
    its resolution can still change. The dashboard sums these rows, never the messages."""

    class Resolution(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed resolution"
        ASSUMED = "assumed", "Assumed resolution"
        UNRESOLVED = "unresolved", "Unresolved"
        # The 24-hour window after its last answer is still open: not counted yet.
        PENDING = "pending", "Pending"

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="outcome"
    )
    # The day of its first message, in TIME_ZONE: the dashboard's periods.
    started_on = models.DateField()
    questions = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    fallback = models.PositiveIntegerField(default=0)
    injection = models.PositiveIntegerField(default=0)
    escalated = models.BooleanField(default=False)
    resolution = models.CharField(
        max_length=10, choices=Resolution.choices, default=Resolution.PENDING
    )
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # The ids of the KB collections whose articles its answers cited (sorted): the
    # dashboard's collection filter. Ids, not a relation: one row stays one row.
    collections = ArrayField(models.IntegerField(), default=list, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["started_on"], name="outcome_started_on"),
            GinIndex(fields=["collections"], name="outcome_collections_gin"),
        ]
        # The dashboard's permission: figures about every conversation, no text of any.
        permissions = [("view_insights", "Can view insights")]

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.get_resolution_display()}"


class ContentGap(models.Model):
    """A topic customers asked about that the knowledge base could not answer: questions
    grouped by their embeddings (insights/gaps.py)."""

    # Its most central question, redacted: what an editor reads first.
    label = models.CharField(max_length=300)
    # The existing article closest to the topic, if any is close at all.
    nearest_article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nearest_similarity = models.FloatField(null=True, blank=True)
    # The draft an editor was given from this gap (unpublished until they publish it).
    draft = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="drafted_from"
    )
    # After an article was published: how many of its questions retrieval now answers.
    answered_now = models.PositiveIntegerField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.label


class GapQuestion(models.Model):
    """One customer question in a gap, with why it counts as unanswered."""

    class Reason(models.TextChoices):
        REFUSED = "refused", "Refused"
        THUMBS_DOWN = "thumbs_down", "Answer got a thumbs-down"
        ESCALATED = "escalated", "Led to an escalation"

    gap = models.ForeignKey(ContentGap, on_delete=models.CASCADE, related_name="questions")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="gap_question")
    # A redacted copy (chat/redaction.py): editors read topics, not customers' data.
    text = models.TextField()
    reason = models.CharField(max_length=12, choices=Reason.choices)
    asked_at = models.DateTimeField()
    # After a re-check: does retrieval now find an answer to it?
    answered = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at", "id"]
        indexes = [models.Index(fields=["asked_at"], name="gapquestion_asked_at")]

    def __str__(self) -> str:
        return self.text[:60]
