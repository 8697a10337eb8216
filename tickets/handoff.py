"""The live handoff between the bot and a person: services for taking a chat, handing it
back, closing it, a customer's message on a held chat, and the customer's rating. The
agents' live queue hears of each (queue_publish; tickets/consumers.QueueConsumer).

Every change of hands is in the audit trail (Ticket.AUDITED's "chat"), and every change a
customer should see reaches their open page when it commits (chat.services).
"""

from django.db import transaction
from django.utils import timezone

from chat.models import Conversation, staff_name
from chat.protocol import AgentJoined, AgentLeft
from tickets.models import Ticket
from tickets.services import (
    customer_frame_on_commit,
    queue_publish,
    ticket_record_changes,
    ticket_update,
)

HANDED_BACK = "You're talking to our assistant again. Ask away, or ask for a person any time."


def _hold(*, ticket: Ticket, agent, by) -> None:
    """Who answers the customer from now on: `agent`, or the bot (None). Audited."""
    before = ticket.audited_values()
    Conversation.objects.filter(pk=ticket.conversation_id).update(agent=agent)
    ticket.conversation.agent = agent
    ticket_record_changes(ticket=ticket, before=before, by=by)


def _locked(ticket: Ticket) -> Ticket:
    # Two agents clicking at once: the second waits, then sees the first one's change.
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("assignee", "conversation__agent")
        .get(pk=ticket.pk)
    )


def ticket_take(*, ticket: Ticket, agent) -> Ticket:
    """The agent takes the chat: assigned to them, open, and the bot silent in it."""
    with transaction.atomic():
        ticket = _locked(ticket)
        fields = {"assignee": agent}
        if ticket.status != Ticket.Status.OPEN:
            fields["status"] = Ticket.Status.OPEN
        ticket_update(ticket=ticket, by=agent, **fields)
        if ticket.conversation.agent_id != agent.pk:
            _hold(ticket=ticket, agent=agent, by=agent)
            customer_frame_on_commit(ticket=ticket, frame=AgentJoined(staff_name(agent)).frame())
        queue_publish(ticket=ticket, reason="taken")
    return ticket


def ticket_hand_back(*, ticket: Ticket, by) -> Ticket:
    """The bot answers the customer's next question. The ticket stays as it is."""
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.conversation.agent_id is None:
            raise ValueError(f"The bot already has {ticket.number}'s chat.")
        name = staff_name(ticket.conversation.agent)  # who had it, whoever clicked
        _hold(ticket=ticket, agent=None, by=by)
        Ticket.objects.filter(pk=ticket.pk).update(waiting_since=None)
        customer_frame_on_commit(ticket=ticket, frame=AgentLeft(name, HANDED_BACK).frame())
        queue_publish(ticket=ticket, reason="handed_back")
    return ticket


def ticket_close(*, ticket: Ticket, by) -> Ticket:
    """Close the chat: the ticket is resolved and the customer asked for a rating. The
    person keeps the chat, so a customer's "that didn't fix it" reaches them, and reopens
    the ticket (ticket_customer_wrote), rather than the bot."""
    with transaction.atomic():
        ticket = _locked(ticket)
        ticket_update(ticket=ticket, by=by, status=Ticket.Status.RESOLVED)
        Ticket.objects.filter(pk=ticket.pk).update(waiting_since=None)
        queue_publish(ticket=ticket, reason="closed")
    return ticket


def ticket_customer_wrote(*, conversation_id: int) -> Ticket | None:
    """The customer wrote while a person has the chat (chat.answering calls this through
    the wiring): the ticket waits for an agent again, a resolved one reopens, and the
    queue hears of it, with the assignee named, whose page notifies them."""
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("assignee", "conversation__agent")
            .filter(conversation_id=conversation_id, merged_into=None)
            .first()
        )
        if ticket is None:
            return None
        reopened = ticket.status == Ticket.Status.RESOLVED
        if reopened:
            ticket_update(ticket=ticket, by=None, status=Ticket.Status.OPEN)
        if ticket.waiting_since is None:
            ticket.waiting_since = timezone.now()
            Ticket.objects.filter(pk=ticket.pk).update(waiting_since=ticket.waiting_since)
        queue_publish(ticket=ticket, reason="reopened" if reopened else "reply")
    return ticket


def ticket_rate(*, conversation_token_hash: str, score: int, comment: str = "") -> None:
    """Store the customer's rating of their resolved ticket: once. ValueError otherwise."""
    if not 1 <= score <= 5:
        raise ValueError("Rate the help from 1 to 5.")
    tickets = Ticket.objects.filter(conversation__token_hash=conversation_token_hash)
    # One UPDATE that only matches an unrated, resolved ticket: two tabs rating at once
    # store the first rating, and the second is refused.
    rated = tickets.filter(status=Ticket.Status.RESOLVED, csat_score=None).update(
        csat_score=score, csat_comment=comment, csat_at=timezone.now()
    )
    if rated:
        return
    ticket = tickets.first()
    if ticket is None or ticket.status != Ticket.Status.RESOLVED:
        raise ValueError("There is no resolved ticket to rate in this chat.")
    raise ValueError("Thanks, you've rated this ticket already.")
