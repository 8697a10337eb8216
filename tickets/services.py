from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from chat.models import Conversation, Message
from tickets.models import Ticket


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
    if not created and email and ticket.email != email:
        ticket.email = email
        ticket.save(update_fields=["email", "updated_at"])
    return ticket
