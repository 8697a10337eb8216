import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_noop

from chat.models import Conversation, Message

# No 0/O or 1/I/L: customers read these numbers out over the phone.
NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_ticket_number() -> str:
    return "HD-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(6))


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        PENDING = "pending", "Pending customer"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    number = models.CharField(max_length=16, unique=True, default=new_ticket_number, editable=False)
    # One ticket per conversation: a double click or a second escalation finds this one.
    conversation = models.OneToOneField(
        Conversation, on_delete=models.PROTECT, related_name="ticket"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        limit_choices_to={"is_staff": True},
        related_name="tickets",
    )
    customer_name = models.CharField(max_length=200, blank=True)
    # Typed by whoever was in the chat, and never confirmed: a contact address, not an
    # identity. Every change to it is in the audit trail.
    email = models.EmailField(
        "email (unverified)",
        blank=True,
        help_text="Typed by the customer in the chat and never confirmed: anyone can enter "
        "anyone's address. Do not treat it as proof of who you are talking to.",
    )
    subject = models.CharField(max_length=200, blank=True)
    # Set on a duplicate merged into another ticket (which then holds its transcript).
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    # When the ticket should be resolved, from its priority's SLA (TICKET_SLA_HOURS).
    due_at = models.DateTimeField(null=True, blank=True)
    # Since when the customer has been waiting for a person: set by the escalation and by
    # each customer message while a person holds the chat, cleared by an agent's reply. The
    # live queue lists the tickets waiting longest first.
    waiting_since = models.DateTimeField(null=True, blank=True, editable=False)
    # The customer's rating once the ticket was resolved (CSAT): given once, kept.
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    csat_comment = models.TextField(blank=True, editable=False)
    csat_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The fields whose every change is recorded in the audit trail. The email is one:
    # replies go to it, so who pointed it where must be on record. "chat" is who answers
    # the customer, the bot or a person: every change of hands is on record too.
    AUDITED = ("status", "priority", "assignee", "email", "chat")
    DONE = (Status.RESOLVED, Status.CLOSED)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["waiting_since"], name="ticket_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}".strip()

    def sla_due(self) -> timezone.datetime:
        start = self.created_at or timezone.now()
        return start + timedelta(hours=settings.TICKET_SLA_HOURS[self.priority])

    def is_overdue(self) -> bool:
        return bool(self.due_at) and self.status not in self.DONE and self.due_at < timezone.now()

    def audited_values(self) -> dict[str, str]:
        return {
            "status": self.get_status_display(),
            "priority": self.get_priority_display(),
            "assignee": self.assignee.get_username() if self.assignee_id else "",
            "email": self.email,
            "chat": self.chat_holder(),
        }

    # What the customer reads about their ticket on the support page.
    # In English on the wire; the page shows them in its language (desk.html, ticket.js).
    CUSTOMER_LABELS = {
        Status.NEW: gettext_noop("Waiting for a person"),
        Status.OPEN: gettext_noop("A person is on it"),
        Status.PENDING: gettext_noop("Waiting for your reply"),
        Status.RESOLVED: gettext_noop("Resolved"),
        Status.CLOSED: gettext_noop("Closed"),
    }

    def customer_status(self) -> dict:
        """The ticket as the customer's page shows it (chat.protocol.TicketStatus)."""
        return {
            "number": self.number,
            "status": self.status,
            "label": self.CUSTOMER_LABELS[self.status],
            "rate": self.status == self.Status.RESOLVED and self.csat_score is None,
        }

    def chat_holder(self) -> str:
        """Who answers the customer now: the person who took the chat, or the bot."""
        agent = self.conversation.agent if self.conversation_id else None
        return f"agent {agent.get_username()}" if agent else "bot"

    def sla_state(self, *, now=None) -> str:
        """ "overdue", "due soon" (within TICKET_SLA_SOON_HOURS) or "on time", for the queue."""
        if not self.due_at or self.status in self.DONE:
            return "on time"
        now = now or timezone.now()
        if self.due_at < now:
            return "overdue"
        soon = timedelta(hours=settings.TICKET_SLA_SOON_HOURS)
        return "due soon" if self.due_at - now < soon else "on time"


class TicketNote(models.Model):
    """An agent's internal note: never shown to the customer."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Note on {self.ticket.number}"


class TicketChange(models.Model):
    """One row per changed field: who, when, old and new value (the audit trail)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=20)
    # As long as the longest audited value, an email address (254).
    old = models.CharField(max_length=254, blank=True)
    new = models.CharField(max_length=254, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.old} → {self.new}"


class ReplyEmail(models.Model):
    """An agent's reply on its way to the customer's inbox: sent by a Celery task
    (tickets/tasks.py), retried through a mail server outage, its status shown on the
    ticket. It holds no address or text of its own (it sends the ticket's email and the
    message's text), so erasing a customer leaves nothing here to erase."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="reply_emails")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="reply_email")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Reply email {self.pk}: {self.get_status_display()}"


class SavedReply(models.Model):
    """A canned response an agent inserts from the reply box. Its text may hold
    placeholders, filled in for the ticket at hand (tickets/saved_replies.saved_reply_render)."""

    title = models.CharField(max_length=100, unique=True)
    text = models.TextField(
        help_text="Placeholders: {customer_name}, {ticket_number}, {agent_name}. Anything "
        "else in braces is left as written."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "saved replies"

    def __str__(self) -> str:
        return self.title
