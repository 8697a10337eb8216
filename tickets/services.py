import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from redis.exceptions import RedisError

from chat.models import Conversation, Message
from tickets.models import Ticket, TicketChange, TicketNote

logger = logging.getLogger(__name__)


def ticket_escalate(*, conversation: Conversation, email: str = "") -> Ticket:
    """The conversation's ticket, created on the first escalation and reused after.

    The ticket points at the whole conversation, so the agent sees every message,
    including those that arrive after the escalation.
    """
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError(f"{email!r} is not a valid email address.") from None
    first_question = (
        conversation.messages.filter(role=Message.Role.USER).values_list("text", flat=True).first()
    )
    subject = (first_question or "Customer asked for a human")[:200]
    try:
        with transaction.atomic():
            ticket, created = Ticket.objects.get_or_create(
                conversation=conversation, defaults={"email": email, "subject": subject}
            )
    except IntegrityError:
        # Two escalations raced (two tabs); the other one created it.
        ticket, created = Ticket.objects.get(conversation=conversation), False
    if created:
        Ticket.objects.filter(pk=ticket.pk).update(due_at=ticket.sla_due())
    if not created and email and ticket.email != email:
        ticket.email = email
        ticket.save(update_fields=["email", "updated_at"])
    return ticket


def ticket_reply(*, ticket: Ticket, agent, text: str) -> Message:
    """An agent's reply: stored on the conversation, pushed live to every open socket of
    the customer's session, emailed when the customer left an address. From the first
    reply on, the agent has the conversation and the bot stays silent in it."""
    text = text.strip()
    if not text:
        raise ValueError("The reply is empty.")
    conversation = ticket.conversation
    joined = conversation.agent_id is None
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(agent=agent)
        message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.AGENT,
            text=text,
            author=agent,
            delivered=False,
        )
        if ticket.status != Ticket.Status.PENDING:
            ticket_update(ticket=ticket, by=agent, status=Ticket.Status.PENDING)
        name = message.author_name
        transaction.on_commit(lambda: _push(conversation, message, name, joined))
        if ticket.email:
            transaction.on_commit(lambda: _email(ticket, text, name))
    return message


def _push(conversation: Conversation, message: Message, name: str, joined: bool) -> None:
    # Nobody listening is fine: the message stays undelivered until the customer returns.
    # So is a channel layer that is down: the customer's socket delivers it when Redis is
    # back (chat/consumers.py), and the agent's reply is saved either way.
    event = {
        "type": "agent.message",
        "message_id": message.pk,
        "text": message.text,
        "name": name,
        "joined": joined,
    }
    try:
        async_to_sync(get_channel_layer().group_send)(conversation.group_name(), event)
    except (RedisError, OSError):
        logger.warning("Channel layer down: agent reply %s waits for delivery", message.pk)


def _email(ticket: Ticket, text: str, name: str) -> None:
    send_mail(
        subject=f"[{ticket.number}] Reply from {name}",
        message=f"{text}\n\n— {name}, Tasklane Support\nYour ticket: {ticket.number}",
        from_email=None,
        recipient_list=[ticket.email],
        fail_silently=True,  # the reply is stored and shown in the chat either way
    )


def ticket_record_changes(*, ticket: Ticket, before: dict[str, str], by) -> list[TicketChange]:
    """Write the audit trail for what changed since `before` (Ticket.audited_values()),
    and move the due time when the priority changed."""
    after = ticket.audited_values()
    changes = [
        TicketChange(ticket=ticket, field=f, old=before[f], new=after[f], changed_by=by)
        for f in Ticket.AUDITED
        if before[f] != after[f]
    ]
    TicketChange.objects.bulk_create(changes)
    if before["priority"] != after["priority"]:
        ticket.due_at = ticket.sla_due()
        Ticket.objects.filter(pk=ticket.pk).update(due_at=ticket.due_at)
    return changes


def ticket_update(*, ticket: Ticket, by, **fields) -> list[TicketChange]:
    """Change audited fields (an admin action) and record each change."""
    before = ticket.audited_values()
    for name, value in fields.items():
        setattr(ticket, name, value)
    with transaction.atomic():
        ticket.save(update_fields=[*fields, "updated_at"])
        return ticket_record_changes(ticket=ticket, before=before, by=by)


def ticket_merge(*, tickets: list[Ticket], by) -> Ticket:
    """Merge duplicate tickets of one customer into the oldest, which keeps working.

    Each duplicate is closed (recorded in its audit trail) and points at the survivor; the
    survivor gets an internal note with the duplicate's transcript, and the customer's
    name and email if it lacked them. Tickets of different customers are refused."""
    tickets = sorted(tickets, key=lambda t: t.created_at)
    if len(tickets) < 2:
        raise ValueError("Select at least two tickets to merge.")
    emails = {t.email.lower() for t in tickets if t.email}
    if len(emails) > 1:
        raise ValueError(
            f"These tickets belong to different customers ({', '.join(sorted(emails))})."
        )
    survivor, duplicates = tickets[0], tickets[1:]
    with transaction.atomic():
        for duplicate in duplicates:
            _merge_one(survivor, duplicate, by)
        survivor.save(update_fields=["email", "customer_name", "updated_at"])
    return survivor


def _merge_one(survivor: Ticket, duplicate: Ticket, by) -> None:
    TicketNote.objects.create(
        ticket=survivor,
        author=by,
        text=f"Merged {duplicate.number} into this ticket. Its conversation:\n\n"
        + duplicate.conversation.transcript(),
    )
    TicketNote.objects.create(ticket=duplicate, author=by, text=f"Merged into {survivor.number}.")
    survivor.email = survivor.email or duplicate.email
    survivor.customer_name = survivor.customer_name or duplicate.customer_name
    duplicate.merged_into = survivor
    duplicate.save(update_fields=["merged_into", "updated_at"])
    if duplicate.status != Ticket.Status.CLOSED:
        ticket_update(ticket=duplicate, by=by, status=Ticket.Status.CLOSED)
