"""Reads of tickets: for the staff socket, and for other apps through the project's wiring."""

from tickets.models import Ticket


def ticket_for_customer(*, conversation_token_hash: str) -> dict | None:
    """The conversation's ticket as its customer's page shows it (Ticket.customer_status),
    or None when it has none."""
    ticket = Ticket.objects.filter(conversation__token_hash=conversation_token_hash).first()
    return ticket.customer_status() if ticket else None


def ticket_for_staff(*, user, ticket_id: int) -> Ticket | None:
    """The ticket, if this user may watch its conversation live: an active staff member
    who may view tickets. None for anyone else, and for a ticket that does not exist."""
    if not ticket_staff_may_work(user=user):
        return None
    return Ticket.objects.select_related("conversation").filter(pk=ticket_id).first()


def ticket_staff_may_work(*, user) -> bool:
    """May this user work tickets live (the queue's socket, a ticket's socket)? Active
    staff who may view tickets."""
    return bool(user and user.is_active and user.is_staff and user.has_perm("tickets.view_ticket"))


def queue_waiting(*, limit: int = 50) -> tuple[int, list[Ticket]]:
    """The live queue: how many tickets wait for a person, and the `limit` waiting longest,
    first. Two queries, however many tickets there are."""
    waiting = (
        Ticket.objects.filter(waiting_since__isnull=False, merged_into=None)
        .exclude(status__in=Ticket.DONE)
        .select_related("assignee", "conversation__agent")
        .order_by("waiting_since", "pk")
    )
    return waiting.count(), list(waiting[:limit])
