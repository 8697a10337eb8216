"""Erasing one customer's personal data (the right to erasure), in Postgres and Redis.

A conversation without a ticket is deleted with its messages and review samples. One with
a ticket is anonymised instead: deleting the ticket would also delete the agents' work and
the audit trail (number, status, priority, assignee, SLA, history of changes), which hold
nothing about the customer. So the ticket keeps those and loses its name and email; its
subject, every message, internal note and review-sample text become "[erased]"; and the
conversation gets a new token hash, so the browser's session no longer leads to it.

In Redis, the conversation's chat history is deleted. The Django session is not: nothing
stored knows its key (chat/models.py), and it holds only the chat token, which leads
nowhere once the conversation is erased. Rate-limit counters are left to expire at the end
of their window: each is a hash and a number, with nothing readable about anyone.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.history import history_forget
from chat.models import Conversation, Message, ReviewSample, unused_token_hash
from insights.models import GapQuestion
from tickets.models import Ticket, TicketChange, TicketNote

ERASED = "[erased]"
HISTORY_EXPIRES = (
    "The recent chat history in Redis could not be deleted; it expires on its own "
    f"{settings.CHAT_HISTORY_TTL // 60} minutes after the last answer (CHAT_HISTORY_TTL)."
)


@dataclass
class Erasure:
    """What conversation_erase found and erased, for the command's and the admin's report."""

    conversation_id: int
    conversation_deleted: bool = False
    tickets_anonymised: list[str] = field(default_factory=list)
    messages: int = 0
    redis_history: int = 0

    def __str__(self) -> str:
        if self.conversation_deleted:
            postgres = f"conversation deleted with {self.messages} message(s)"
        elif self.tickets_anonymised:
            postgres = (
                f"ticket {', '.join(self.tickets_anonymised)} anonymised, "
                f"{self.messages} message(s) erased"
            )
        else:
            postgres = "no conversation in Postgres"
        return (
            f"Conversation {self.conversation_id}: {postgres}; Redis: "
            f"{self.redis_history} history list(s) deleted."
        )


def conversation_erase(*, conversation_id: int) -> Erasure:
    """Erase everything stored about one conversation's customer. Safe to run twice."""
    report = Erasure(conversation_id=conversation_id)
    key = None
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is not None:
            key = conversation.token_hash
            report.messages = conversation.messages.count()
            number = _ticket_number(conversation)
            if number is None:
                conversation.delete()
                report.conversation_deleted = True
            else:
                conversations_anonymise(ids=[conversation.pk], scrub=lambda _: ERASED)
                report.tickets_anonymised.append(number)
    # After the commit: a failure here is reported, and running the erasure again redoes it.
    if key is not None:
        report.redis_history = history_forget(keys=[key])
    return report


def _ticket_number(conversation: Conversation) -> str | None:
    return Ticket.objects.filter(conversation=conversation).values_list("number", flat=True).first()


def conversations_anonymise(
    *, ids: list[int], scrub: Callable[[str], str], now: datetime | None = None
) -> int:
    """Strip the personal data from these conversations, keeping the rows: every text goes
    through `scrub` (redact() for retention, "[erased]" for erasure), the tickets lose the
    customer's name and email, and the token hashes are replaced. Returns messages scrubbed."""
    messages = _scrubbed(Message.objects.filter(conversation_id__in=ids), scrub, "text")
    Message.objects.bulk_update(messages, ["text"], batch_size=500)
    samples = ReviewSample.objects.filter(message__conversation_id__in=ids)
    ReviewSample.objects.bulk_update(
        _scrubbed(samples, scrub, "question", "answer"), ["question", "answer"], batch_size=500
    )
    # A content gap's copy of a question is redacted already, but still the customer's
    # words: it goes, and the gaps no longer count it (insights/gaps.py skips anonymised
    # conversations, so it is not collected again).
    GapQuestion.objects.filter(message__conversation_id__in=ids).delete()
    notes = _scrubbed(TicketNote.objects.filter(ticket__conversation_id__in=ids), scrub, "text")
    TicketNote.objects.bulk_update(notes, ["text"], batch_size=500)
    # The audit trail records each change of the customer's email, old and new address.
    email_changes = TicketChange.objects.filter(ticket__conversation_id__in=ids, field="email")
    changes = _scrubbed(email_changes, scrub, "old", "new")
    TicketChange.objects.bulk_update(changes, ["old", "new"], batch_size=500)
    # The rating's comment is the customer's own words, like a message; its score stays.
    tickets = _scrubbed(
        Ticket.objects.filter(conversation_id__in=ids), scrub, "subject", "csat_comment"
    )
    for ticket in tickets:
        ticket.customer_name = ticket.email = ""
    Ticket.objects.bulk_update(
        tickets, ["subject", "csat_comment", "customer_name", "email"], batch_size=500
    )
    conversations = list(Conversation.objects.filter(pk__in=ids).only("pk"))
    widget_fields = ["verified_id", "verified_email", "page_url", "page_title"]
    for conversation in conversations:
        # The hash of a token nobody has: the customer's session no longer leads here.
        conversation.token_hash = unused_token_hash()
        conversation.anonymised_at = now or timezone.now()
        # What a host site said of its signed-in user, and the page they were on.
        conversation.verified_id = conversation.verified_email = ""
        conversation.page_url = conversation.page_title = ""
    Conversation.objects.bulk_update(conversations, ["token_hash", "anonymised_at", *widget_fields])
    return len(messages)


def _scrubbed(queryset, scrub: Callable[[str], str], *fields: str) -> list:
    rows = list(queryset.only("pk", *fields))
    for row in rows:
        for name in fields:
            setattr(row, name, scrub(getattr(row, name)))
    return rows
