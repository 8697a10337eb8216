import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.models import Conversation, Message
from chat.protocol import TicketStatus
from chat.services import agent_message_push, customer_frame_push, group_send
from core.queue import task_on_commit
from tickets.models import ReplyEmail, Ticket, TicketChange, TicketNote, new_ticket_number

logger = logging.getLogger(__name__)

# A number already taken is drawn again; 31^6 numbers make a second collision in a row
# all but impossible, so running out of attempts means something else is wrong.
NUMBER_ATTEMPTS = 5
# Every open queue page of every agent is in this Channels group (tickets/consumers.py).
QUEUE_GROUP = "staff.queue"


def ticket_escalate(
    *,
    conversation: Conversation,
    email: str = "",
    new_number: Callable[[], str] = new_ticket_number,
) -> Ticket:
    """The conversation's ticket, created on the first escalation and reused after.

    The ticket points at the whole conversation, so the agent sees every message,
    including those that arrive after the escalation. A new address from the customer
    replaces the old one, on the record: the audit trail keeps both.
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
    ticket, created = _ticket_get_or_create(
        conversation=conversation,
        defaults={"email": email, "subject": subject},
        new_number=new_number,
    )
    if created:
        ticket.waiting_since = timezone.now()
        Ticket.objects.filter(pk=ticket.pk).update(
            due_at=ticket.sla_due(), waiting_since=ticket.waiting_since
        )
        queue_publish(ticket=ticket, reason="new")
        return ticket
    changes = {"email": email} if email and ticket.email != email else {}
    if ticket.status == Ticket.Status.RESOLVED:
        changes["status"] = Ticket.Status.OPEN  # asking for a person again: not resolved
    if changes:
        # No user: the customer, escalating again from the chat.
        ticket_update(ticket=ticket, by=None, **changes)
    if "status" in changes or ticket.waiting_since is None:
        Ticket.objects.filter(pk=ticket.pk).update(waiting_since=timezone.now())
        queue_publish(ticket=ticket, reason="reopened" if "status" in changes else "reply")
    return ticket


def _ticket_get_or_create(
    *, conversation: Conversation, defaults: dict, new_number: Callable[[], str]
) -> tuple[Ticket, bool]:
    for _ in range(NUMBER_ATTEMPTS):
        number = new_number()
        try:
            with transaction.atomic():
                # A double click (two tabs) is settled inside get_or_create: the slower
                # insert fails on the conversation, and it returns the faster one's ticket.
                return Ticket.objects.get_or_create(
                    conversation=conversation, defaults={**defaults, "number": number}
                )
        except IntegrityError:
            # No ticket of this conversation exists, so it was not a double click: another
            # conversation's ticket has this number. Anything else is not ours to retry.
            if not Ticket.objects.filter(number=number).exists():
                raise
            logger.warning("Ticket number %s was taken; drawing another", number)
    raise RuntimeError(f"No free ticket number in {NUMBER_ATTEMPTS} attempts.")


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
        if joined:
            before = ticket.audited_values()
            conversation.agent = agent
            ticket_record_changes(ticket=ticket, before=before, by=agent)
        Conversation.objects.filter(pk=conversation.pk).update(agent=agent)
        # Answered: no longer waiting for a person (until the customer writes again).
        Ticket.objects.filter(pk=ticket.pk).update(waiting_since=None)
        message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.AGENT,
            text=text,
            author=agent,
            delivered=False,
        )
        # The reply reaches the customer first, then the status it leaves the ticket in.
        transaction.on_commit(lambda: agent_message_push(message=message, joined=joined))
        if ticket.status != Ticket.Status.PENDING:
            ticket_update(ticket=ticket, by=agent, status=Ticket.Status.PENDING)
        if ticket.email:
            reply_email_queue(ticket=ticket, message=message)
    return message


def reply_email_queue(*, ticket: Ticket, message: Message) -> ReplyEmail:
    """Queue the email of an agent's reply: a row that records its status, and a task,
    enqueued when the reply commits, that sends it and retries through an outage."""
    reply_email = ReplyEmail.objects.create(ticket=ticket, message=message)
    task_on_commit("tickets.tasks.send_reply_email", reply_email.pk)
    return reply_email


def reply_email_send(*, reply_email_id: int, last_try: bool = False) -> bool:
    """Send one queued reply email. True when it was sent now; False when there was
    nothing to send (sent already, or no address left). A mail server error is recorded
    on the row, which is marked failed on the last try, and raised for the task to retry."""
    with transaction.atomic():
        # The row lock makes a second run wait for the first and then find it sent.
        reply_email = (
            ReplyEmail.objects.select_for_update(of=("self",))
            .select_related("ticket", "message__author")
            .filter(pk=reply_email_id)
            .first()
        )
        if reply_email is None or reply_email.status == ReplyEmail.Status.SENT:
            return False
        if not reply_email.ticket.email:  # removed or erased since the reply
            reply_email.status, reply_email.last_error = ReplyEmail.Status.FAILED, "No address."
            reply_email.save(update_fields=["status", "last_error"])
            return False
        error = _attempt(reply_email, last_try=last_try)
    if error is not None:
        raise error
    return True


def _attempt(reply_email: ReplyEmail, *, last_try: bool) -> OSError | None:
    reply_email.attempts += 1
    error = None
    try:
        _email(reply_email.ticket, reply_email.message)
    except OSError as exc:  # smtplib.SMTPException is an OSError too
        error = exc
        reply_email.status = ReplyEmail.Status.FAILED if last_try else ReplyEmail.Status.QUEUED
        # Recipient errors quote the address; the row keeps no personal data.
        text = f"{type(exc).__name__}: {exc}".replace(reply_email.ticket.email, "<customer>")
        reply_email.last_error = text[:300]
    else:
        reply_email.status, reply_email.sent_at = ReplyEmail.Status.SENT, timezone.now()
        reply_email.last_error = ""
    reply_email.save(update_fields=["status", "attempts", "last_error", "sent_at"])
    return error


def _email(ticket: Ticket, message: Message) -> None:
    name = message.author_name
    send_mail(
        subject=f"[{ticket.number}] Reply from {name}",
        message=f"{message.text}\n\n— {name}, {settings.SITE_NAME}\nYour ticket: {ticket.number}",
        from_email=None,
        recipient_list=[ticket.email],
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
    if before["status"] != after["status"]:
        _status_push(ticket)
    return changes


def _status_push(ticket: Ticket) -> None:
    """The customer's open page shows the ticket's new status, when the change commits."""
    customer_frame_on_commit(ticket=ticket, frame=TicketStatus(**ticket.customer_status()).frame())


def customer_frame_on_commit(*, ticket: Ticket, frame: dict) -> None:
    """Send a protocol frame to the ticket's customer's open pages when the change commits."""
    conversation = ticket.conversation
    transaction.on_commit(lambda: customer_frame_push(conversation=conversation, frame=frame))


def queue_publish(*, ticket: Ticket, reason: str) -> None:
    """Tell every open queue page, when the change commits, that this ticket changed:
    `new`, `reply`, `reopened`, `taken`, `handed_back` or `closed`. The pages fetch the
    queue again, with their own permissions: the event carries no customer data."""
    event = {"type": "queue.changed", "ticket_id": ticket.pk, "number": ticket.number,
             "reason": reason, "assignee_id": ticket.assignee_id}  # fmt: skip

    missed = f"the live queue's {reason!r}"
    transaction.on_commit(lambda: group_send(group=QUEUE_GROUP, event=event, missed=missed))


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
    before = survivor.audited_values()
    with transaction.atomic():
        for duplicate in duplicates:
            _merge_one(survivor, duplicate, by)
        survivor.save(update_fields=["email", "customer_name", "updated_at"])
        # The survivor may take a duplicate's email: on the record like any other change.
        ticket_record_changes(ticket=survivor, before=before, by=by)
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
