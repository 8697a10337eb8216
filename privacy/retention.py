"""Retention: conversations idle for CHAT_RETENTION_DAYS lose the customer's personal data.

- Without a ticket: deleted, with their messages and review samples.
- With a resolved or closed ticket: anonymised (privacy/erasure.py) through redact(), so the
  ticket, its audit trail and a redacted transcript stay for reporting, while the name,
  email and the link to the browser session go.
- With a ticket still being worked: left alone until it is done and then idle as long.

Idle means no message and no ticket change since the cutoff. (Conversation.updated_at is
not moved by every message, so the messages themselves are asked.) Work goes in small
batches, each its own transaction, so a run cut short by its time limit keeps what it
did and the next run carries on.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from redis.exceptions import RedisError

from chat.history import history_forget
from chat.models import Conversation, Message
from chat.redaction import redact
from privacy.erasure import conversations_anonymise
from tickets.models import Ticket

logger = logging.getLogger(__name__)

BATCH = 200


@dataclass
class Purge:
    deleted: int = 0
    anonymised: int = 0


def conversation_purge_expired(*, now: datetime, days: int, batch: int = BATCH) -> Purge:
    """Delete or anonymise every conversation idle for `days` (0 keeps everything)."""
    result = Purge()
    if days <= 0:
        return result
    cutoff = now - timedelta(days=days)
    while done := _delete_batch(_idle(cutoff).filter(ticket__isnull=True), batch):
        result.deleted += done
    done_tickets = _idle(cutoff).filter(
        anonymised_at__isnull=True, ticket__status__in=Ticket.DONE, ticket__updated_at__lt=cutoff
    )
    while done := _anonymise_batch(done_tickets, batch, now):
        result.anonymised += done
    return result


def _idle(cutoff: datetime) -> QuerySet[Conversation]:
    recent = Message.objects.filter(conversation=OuterRef("pk"), created_at__gte=cutoff)
    return Conversation.objects.filter(Q(updated_at__lt=cutoff) & ~Exists(recent))


def _locked(conversations: QuerySet[Conversation], size: int) -> list[tuple[int, str]]:
    # skip_locked: a conversation in use right now is left for the next run.
    return list(
        conversations.select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
        .values_list("pk", "token_hash")[:size]
    )


def _delete_batch(conversations: QuerySet[Conversation], size: int) -> int:
    with transaction.atomic():
        rows = _locked(conversations, size)
        Conversation.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    _forget([key for _, key in rows])
    return len(rows)


def _anonymise_batch(conversations: QuerySet[Conversation], size: int, now: datetime) -> int:
    with transaction.atomic():
        rows = _locked(conversations, size)
        conversations_anonymise(ids=[pk for pk, _ in rows], scrub=redact, now=now)
    _forget([key for _, key in rows])
    return len(rows)


def _forget(keys: list[str]) -> None:
    # The history expires on its own long before CHAT_RETENTION_DAYS with the default
    # settings; this is for a deployment that keeps it longer. So Redis down is not fatal.
    if not keys:
        return
    try:
        history_forget(keys=keys)
    except (RedisError, OSError):
        logger.warning("Retention could not clear %d chat history list(s) in Redis", len(keys))
