import hashlib
import secrets

from django.db import models

# The session holds this random token, and the conversation only its hash. The session key
# itself (a live login: a superuser who chatted is one) is never stored with a conversation
# or shown to anyone, so neither an agent in the admin nor a database backup can turn a
# conversation into someone's session.
SESSION_TOKEN = "chat_token"


def token_new() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unused_token_hash() -> str:
    # A conversation made without a token (tests, imports) matches no session's token.
    return token_hash(token_new())


def staff_name(user) -> str:
    """An agent's name as the customer reads it: their full name, else their username."""
    return user.get_full_name() or user.get_username()


def group_for(key: str) -> str:
    """The Channels group every open socket of one conversation joins, by its token hash."""
    return f"chat.{key}"


class Conversation(models.Model):
    """Every exchange of one browser session, kept whole (Redis only keeps the recent turns)."""

    # sha256 of the token in the customer's session (SESSION_TOKEN): finds the conversation
    # for a socket, names its Channels group and its history in Redis.
    token_hash = models.CharField(
        max_length=64, unique=True, default=unused_token_hash, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the review sampler looked at it; each conversation is considered once.
    sampled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when a human agent takes the conversation over: the bot stays silent in it.
    agent = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When retention or an erasure request stripped its personal data (privacy/erasure.py).
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Questions refused by the prompt-injection screen (chat/screening.py), for review.
    injection_attempts = models.PositiveIntegerField(default=0, editable=False)
    # The website whose widget it came from (none: the desk's own page), and what the host
    # page said of itself and of its signed-in user (widget/identity.py checked the
    # signature; unsigned, these stay blank).
    site = models.ForeignKey(
        "widget.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    page_url = models.URLField(max_length=500, blank=True, editable=False)
    page_title = models.CharField(max_length=200, blank=True, editable=False)
    verified_id = models.CharField(max_length=200, blank=True, editable=False)
    verified_email = models.EmailField(blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"

    def transcript(self) -> str:
        return "\n\n".join(m.as_transcript_line() for m in self.messages.all())

    def identity_text(self) -> str:
        """Who the customer is, as far as anyone vouched: the host site's signed identity
        (widget/identity.py), and the page they wrote from."""
        if self.verified_id:
            email = f", {self.verified_email}" if self.verified_email else ""
            text = f"Verified by {self.site or 'the host site'}: user {self.verified_id}{email}"
        else:
            text = "Unverified"
        return f"{text} (on {self.page_url})" if self.page_url else text

    def group_name(self) -> str:
        """The Channels group every open socket of this conversation's session joins."""
        return group_for(self.token_hash)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "Customer"
        ASSISTANT = "assistant", "Bot"
        AGENT = "agent", "Agent"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField()
    sources = models.JSONField(default=list, blank=True)
    # How many earlier turns went into the prompt, for quality review.
    history_turns = models.PositiveSmallIntegerField(default=0)
    # Set when the answer did not come from the model (fallback) or was cut short.
    interrupted = models.BooleanField(default=False)
    # Cut short because the customer pressed Stop (interrupted too), not by a lost socket.
    stopped = models.BooleanField(default=False)
    fallback = models.BooleanField(default=False)
    # Automatic quality signals, shown to reviewers (see chat/quality.py).
    refused = models.BooleanField(default=False)
    retrieval_score = models.FloatField(null=True, blank=True)
    groundedness = models.FloatField(null=True, blank=True)
    feedback = models.CharField(
        max_length=4, blank=True, choices=[("up", "👍 helpful"), ("down", "👎 not helpful")]
    )
    # Agent messages: who wrote it, and whether a socket of the customer has shown it yet.
    author = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    delivered = models.BooleanField(default=True)
    # Customer messages: the screening rule family that refused it ("" when none did).
    screened = models.CharField(max_length=40, blank=True)
    # Bot answers: milliseconds spent in each stage of the question path, plus tokens/s.
    timings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.text[:60]}"

    @property
    def author_name(self) -> str:
        return "Support agent" if self.author is None else staff_name(self.author)

    # The order of the question path, for reading timings left to right.
    TIMING_STAGES = ["receive", "conversation", "history", "embedding", "question_write",
                     "embedding_followup", "retrieval", "prompt", "llm_ttft", "first_token_out",
                     "total"]  # fmt: skip

    def timings_summary(self) -> str:
        """'receive 0.3 · embedding 6.1 · … · total 1890.2 ms · 38 tokens at 96.0/s'."""
        if not self.timings:
            return ""
        stages = [f"{s} {self.timings[s]:g}" for s in self.TIMING_STAGES if s in self.timings]
        summary = " · ".join(stages) + " ms"
        if "tokens" in self.timings:
            summary += f" · {self.timings['tokens']} tokens"
        if "tokens_per_second" in self.timings:
            summary += f" at {self.timings['tokens_per_second']:g}/s"
        return summary

    def as_transcript_line(self) -> str:
        marks = " [interrupted]" if self.interrupted else ""
        marks += " [fallback]" if self.fallback else ""
        return f"{self.get_role_display()}{marks}: {self.text}"


class ReviewSample(models.Model):
    """An answer drawn for human quality review by the sampling task."""

    class Verdict(models.TextChoices):
        PENDING = "", "Not reviewed"
        GOOD = "good", "Good"
        BAD = "bad", "Bad"

    class Reason(models.TextChoices):
        """What the answer is, the most troubling kind first: the queue's order (the
        admin sorts by this declaration order) and the sampler's (chat/review.py)."""

        THUMBS_DOWN = "thumbs_down", "Thumbs-down"
        LOW_GROUNDEDNESS = "low_groundedness", "Low groundedness"
        REFUSED = "refused", "Refused (no evidence)"
        INJECTION = "injection", "Injection refusal"
        RANDOM = "random", "Random"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="review")
    # Samples queued before reasons existed were drawn at random, hence the default.
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.RANDOM)
    # Redacted copies (chat/redaction.py), made when sampled: reviewers judge the answer,
    # they have no need for the customer's email address or card number.
    question = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    verdict = models.CharField(max_length=4, choices=Verdict.choices, blank=True)
    note = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Review of message {self.message_id}"
