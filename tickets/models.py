import secrets

from django.conf import settings
from django.db import models

from chat.models import Conversation

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
    email = models.EmailField(blank=True)
    subject = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}".strip()
