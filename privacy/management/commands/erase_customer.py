"""Erase one customer's personal data, in Postgres and Redis (the right to erasure)."""

import re

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from chat.models import Conversation
from privacy.erasure import HISTORY_EXPIRES, conversation_erase
from tickets.models import Ticket

TICKET_NUMBER = re.compile(r"HD-[A-Z0-9]{6}", re.IGNORECASE)


def conversations_for(identifier: str) -> list[int]:
    """A conversation id as it is; a ticket number or an email address as the
    conversations of the tickets that carry it (and, for an email, those a host site
    signed it for)."""
    if identifier.isdigit():
        found = Conversation.objects.filter(pk=int(identifier))
        ids = list(found.values_list("pk", flat=True))
    elif TICKET_NUMBER.fullmatch(identifier):
        ids = _ticket_conversations(number=identifier.upper())
    elif "@" in identifier:
        # The email on their tickets, or the one a host site signed for them (the widget).
        signed = Conversation.objects.filter(verified_email__iexact=identifier)
        ids = _ticket_conversations(email__iexact=identifier)
        ids += [pk for pk in signed.values_list("pk", flat=True) if pk not in ids]
    else:
        raise CommandError("Give a conversation id, a ticket number (HD-XXXXXX) or an email.")
    if not ids:
        raise CommandError(f"No conversation or ticket has {identifier!r}.")
    return ids


def _ticket_conversations(**lookup) -> list[int]:
    return list(Ticket.objects.filter(**lookup).values_list("conversation_id", flat=True))


class Command(BaseCommand):
    help = (
        "Erase one customer's data: their conversation (deleted, or anonymised when it has a "
        "ticket) and its chat history. Give a conversation id, a ticket number (HD-XXXXXX) "
        "or the email address on their tickets."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="conversation id, ticket number or email address")

    def handle(self, *args, identifier: str, **options):
        for conversation_id in conversations_for(identifier.strip()):
            try:
                erased = conversation_erase(conversation_id=conversation_id)
            except (RedisError, OSError) as exc:
                # Postgres is done by then. Nothing can find the history again (its key
                # went with the conversation), but it expires on its own.
                raise CommandError(
                    f"Redis unavailable ({exc}); the data in Postgres is erased. {HISTORY_EXPIRES}"
                ) from None
            self.stdout.write(str(erased))
