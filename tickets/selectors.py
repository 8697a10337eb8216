"""Reads of tickets for other apps, handed to them by the project's wiring."""

from tickets.models import Ticket


def ticket_number_for(*, conversation_token_hash: str) -> str:
    """The number of the conversation's ticket, or "" when it has none."""
    ticket = Ticket.objects.filter(conversation__token_hash=conversation_token_hash).first()
    return ticket.number if ticket else ""
