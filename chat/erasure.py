"""Erasing one customer's personal data (the right to erasure), in Postgres and Redis.

A conversation without a ticket is deleted with its messages and review samples. One with
a ticket is anonymised instead: deleting the ticket would also delete the agents' work and
the audit trail (number, status, priority, assignee, SLA, history of changes), which hold
nothing about the customer. So the ticket keeps those and loses its name and email; its
subject, every message, internal note and review-sample text become "[erased]"; and the
conversation gets a new session key, so the browser's cookie no longer leads to it.

In Redis, the session's chat history and its Django session (SESSION_ENGINE stores it in
the cache) are deleted. Rate-limit counters are left to expire at the end of their window:
each is a hash and a number, with nothing readable about anyone.
"""

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.history import history_forget
from chat.models import Conversation, Message, ReviewSample
from tickets.models import Ticket, TicketNote

ERASED = "[erased]"


@dataclass
class Erasure:
    """What session_erase found and erased, for the command's and the admin's report."""

    session_key: str
    conversation_deleted: bool = False
    tickets_anonymised: list[str] = field(default_factory=list)
    messages: int = 0
    redis_history: int = 0
    redis_session: int = 0

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
            f"Session {self.session_key[:8]}…: {postgres}; Redis: {self.redis_history} "
            f"history list(s), {self.redis_session} session(s) deleted."
        )


def session_erase(*, session_key: str) -> Erasure:
    """Erase everything stored about one browser session. Safe to run twice."""
    report = Erasure(session_key=session_key)
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update().filter(session_key=session_key).first()
        )
        if conversation is not None:
            report.messages = conversation.messages.count()
            number = _ticket_number(conversation)
            if number is None:
                conversation.delete()
                report.conversation_deleted = True
            else:
                conversations_anonymise(ids=[conversation.pk], scrub=lambda _: ERASED)
                report.tickets_anonymised.append(number)
    # After the commit: a failure here is reported, and running the erasure again redoes it.
    report.redis_history = history_forget(session_keys=[session_key])
    report.redis_session = sessions_forget(session_keys=[session_key])
    return report


def _ticket_number(conversation: Conversation) -> str | None:
    return Ticket.objects.filter(conversation=conversation).values_list("number", flat=True).first()


def conversations_anonymise(
    *, ids: list[int], scrub: Callable[[str], str], now: datetime | None = None
) -> int:
    """Strip the personal data from these conversations, keeping the rows: every text goes
    through `scrub` (redact() for retention, "[erased]" for erasure), the tickets lose the
    customer's name and email, and the session keys are replaced. Returns messages scrubbed."""
    messages = _scrubbed(Message.objects.filter(conversation_id__in=ids), scrub, "text")
    Message.objects.bulk_update(messages, ["text"], batch_size=500)
    samples = ReviewSample.objects.filter(message__conversation_id__in=ids)
    ReviewSample.objects.bulk_update(
        _scrubbed(samples, scrub, "question", "answer"), ["question", "answer"], batch_size=500
    )
    notes = _scrubbed(TicketNote.objects.filter(ticket__conversation_id__in=ids), scrub, "text")
    TicketNote.objects.bulk_update(notes, ["text"], batch_size=500)
    tickets = _scrubbed(Ticket.objects.filter(conversation_id__in=ids), scrub, "subject")
    for ticket in tickets:
        ticket.customer_name = ticket.email = ""
    Ticket.objects.bulk_update(tickets, ["subject", "customer_name", "email"], batch_size=500)
    conversations = list(Conversation.objects.filter(pk__in=ids).only("pk"))
    for conversation in conversations:
        # Unique and unguessable, and visibly not a real session.
        conversation.session_key = f"anonymised-{secrets.token_hex(16)}"
        conversation.anonymised_at = now or timezone.now()
    Conversation.objects.bulk_update(conversations, ["session_key", "anonymised_at"])
    return len(messages)


def _scrubbed(queryset, scrub: Callable[[str], str], *fields: str) -> list:
    rows = list(queryset.only("pk", *fields))
    for row in rows:
        for name in fields:
            setattr(row, name, scrub(getattr(row, name)))
    return rows


def sessions_forget(*, session_keys: Iterable[str]) -> int:
    """Delete these Django sessions from the session store. Returns how many existed."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    found = 0
    for key in session_keys:
        session = store(session_key=key)
        if session.exists(key):
            session.delete(key)
            found += 1
    return found
