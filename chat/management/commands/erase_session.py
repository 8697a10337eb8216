"""Erase one customer's personal data, in Postgres and Redis (the right to erasure)."""

import re

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from chat.erasure import session_erase
from tickets.models import Ticket

TICKET_NUMBER = re.compile(r"HD-[A-Z0-9]{6}", re.IGNORECASE)


def session_keys_for(identifier: str) -> list[str]:
    """A session key as it is; a ticket number or an email address as the sessions of
    the tickets that carry it."""
    if TICKET_NUMBER.fullmatch(identifier):
        tickets = Ticket.objects.filter(number=identifier.upper())
    elif "@" in identifier:
        tickets = Ticket.objects.filter(email__iexact=identifier)
    else:
        return [identifier]
    keys = list(tickets.values_list("conversation__session_key", flat=True))
    if not keys:
        raise CommandError(f"No ticket has {identifier!r}.")
    return keys


class Command(BaseCommand):
    help = (
        "Erase one customer's data: their conversation (deleted, or anonymised when it has a "
        "ticket), chat history and session. Give a session key, a ticket number (HD-XXXXXX) "
        "or the email address on their tickets."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="session key, ticket number or email address")

    def handle(self, *args, identifier: str, **options):
        for session_key in session_keys_for(identifier.strip()):
            try:
                erased = session_erase(session_key=session_key)
            except (RedisError, OSError) as exc:
                # Postgres is done by then; running the command again finishes Redis.
                raise CommandError(
                    f"Redis unavailable ({exc}); the data in Postgres is erased. When Redis "
                    f"is back, run: manage.py erase_session {session_key}"
                ) from None
            self.stdout.write(str(erased))
