"""Reads of tickets: for the staff socket, and for other apps through the project's wiring."""

from tickets.models import Ticket


def ticket_number_for(*, conversation_token_hash: str) -> str:
    """The number of the conversation's ticket, or "" when it has none."""
    ticket = Ticket.objects.filter(conversation__token_hash=conversation_token_hash).first()
    return ticket.number if ticket else ""


def ticket_for_staff(*, user, ticket_id: int) -> Ticket | None:
    """The ticket, if this user may watch its conversation live: an active staff member
    who may view tickets. None for anyone else, and for a ticket that does not exist."""
    if user is None or not (user.is_active and user.is_staff):
        return None
    if not user.has_perm("tickets.view_ticket"):
        return None
    return Ticket.objects.select_related("conversation").filter(pk=ticket_id).first()
