"""The customer's email is typed in the chat and never confirmed: the admin says so, and
every change to it (by an agent, a second escalation or a merge) is in the audit trail."""

import pytest

from chat.models import Conversation
from tickets.models import TicketChange
from tickets.services import ticket_escalate, ticket_merge
from tickets.tests.test_admin import form_data

pytestmark = pytest.mark.django_db


def escalated(email: str = ""):
    return ticket_escalate(conversation=Conversation.objects.create(), email=email)


def email_changes() -> set[tuple]:
    return {(c.old, c.new, c.changed_by) for c in TicketChange.objects.filter(field="email")}


def test_the_ticket_list_marks_the_email_unverified(admin_client):
    escalated("pat@example.com")

    page = admin_client.get("/admin/tickets/ticket/").content.decode()

    assert "pat@example.com (unverified)" in page


def test_the_ticket_page_labels_the_email_unverified(admin_client):
    ticket = escalated("pat@example.com")

    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()

    assert "Email (unverified)" in page
    assert "never confirmed" in page


def test_it_records_an_agents_change_of_the_email(admin_client, admin_user):
    ticket = escalated("pat@example.com")

    response = admin_client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        form_data(email="attacker@example.net", subject=ticket.subject),
    )

    assert response.status_code == 302
    assert email_changes() == {("pat@example.com", "attacker@example.net", admin_user)}
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "attacker@example.net" in page and "pat@example.com" in page


def test_it_records_a_second_escalation_with_another_email(admin_client):
    ticket = escalated("pat@example.com")

    again = ticket_escalate(conversation=ticket.conversation, email="someone@example.org")

    assert again.pk == ticket.pk
    assert again.email == "someone@example.org"
    assert email_changes() == {("pat@example.com", "someone@example.org", None)}
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "customer (chat)" in page


def test_a_second_escalation_with_the_same_email_records_nothing():
    ticket = escalated("pat@example.com")

    ticket_escalate(conversation=ticket.conversation, email="pat@example.com")
    ticket_escalate(conversation=ticket.conversation)

    assert not TicketChange.objects.exists()


def test_it_records_the_email_a_merge_gives_the_survivor(admin_user):
    survivor, duplicate = escalated(), escalated("pat@example.com")

    ticket_merge(tickets=[survivor, duplicate], by=admin_user)

    survivor.refresh_from_db()
    assert survivor.email == "pat@example.com"
    assert ("", "pat@example.com", admin_user) in {
        (c.old, c.new, c.changed_by) for c in survivor.changes.filter(field="email")
    }


def test_it_records_an_address_as_long_as_email_allows(admin_client, admin_user):
    ticket = escalated("pat@example.com")
    longest = "a" * 64 + "@" + ("b" * 61 + ".") * 3 + "com"  # 254 characters

    response = admin_client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        form_data(email=longest, subject=ticket.subject),
    )

    assert response.status_code == 302
    assert email_changes() == {("pat@example.com", longest, admin_user)}
