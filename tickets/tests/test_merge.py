"""Merging duplicate tickets of one customer into the oldest."""

import pytest

from chat.models import Conversation, Message
from tickets.models import Ticket, TicketChange
from tickets.services import ticket_escalate, ticket_merge

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/tickets/ticket/"


def _ticket(key: str, question: str, email: str = "") -> Ticket:
    conversation = Conversation.objects.create(token_hash=key)
    Message.objects.create(conversation=conversation, role="user", text=question)
    return ticket_escalate(conversation=conversation, email=email)


def test_duplicates_are_closed_and_point_at_the_oldest_ticket(admin_user):
    first = _ticket("a", "I was charged twice", "ann@example.com")
    second = _ticket("b", "Charged twice again, please help")
    third = _ticket("c", "Still double charged", "ANN@example.com")

    survivor = ticket_merge(tickets=[third, first, second], by=admin_user)

    assert survivor == first
    for duplicate in (second, third):
        duplicate.refresh_from_db()
        assert duplicate.merged_into == first
        assert duplicate.status == Ticket.Status.CLOSED
        assert TicketChange.objects.filter(ticket=duplicate, field="status", new="Closed").exists()
        assert duplicate.notes.get().text == f"Merged into {first.number}."
    notes = [n.text for n in first.notes.all()]
    assert any(second.number in n and "Charged twice again" in n for n in notes)
    assert any(third.number in n and "Still double charged" in n for n in notes)
    first.refresh_from_db()
    assert first.status == Ticket.Status.NEW


def test_the_survivor_gains_the_email_it_lacked(admin_user):
    first = _ticket("a", "Help")
    second = _ticket("b", "Help again", "bob@example.com")

    ticket_merge(tickets=[first, second], by=admin_user)

    first.refresh_from_db()
    assert first.email == "bob@example.com"


def test_tickets_of_different_customers_are_not_merged(admin_user):
    first = _ticket("a", "Help", "ann@example.com")
    second = _ticket("b", "Help", "bob@example.com")

    with pytest.raises(ValueError, match="different customers"):
        ticket_merge(tickets=[first, second], by=admin_user)

    second.refresh_from_db()
    assert second.merged_into is None and second.status == Ticket.Status.NEW


def test_the_admin_action_merges_the_selected_tickets(admin_client):
    first = _ticket("a", "Refund please", "ann@example.com")
    second = _ticket("b", "Refund please!!", "ann@example.com")

    response = admin_client.post(
        CHANGELIST, {"action": "merge", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert f"Merged 1 ticket(s) into {first.number}." in response.text
    second.refresh_from_db()
    assert second.merged_into == first


def test_the_admin_action_explains_why_it_refused(admin_client):
    only = _ticket("a", "Refund please")

    response = admin_client.post(
        CHANGELIST, {"action": "merge", "_selected_action": [only.pk]}, follow=True
    )

    assert "Select at least two tickets to merge." in response.text
