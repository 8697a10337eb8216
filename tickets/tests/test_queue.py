"""The agents' live queue page and the ticket page's handoff buttons, through the admin;
and the queue and ticket pages stay at a constant number of queries as tickets grow."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Conversation, Message
from tickets.models import Ticket, TicketChange


def waiting_ticket(*, minutes: int, subject: str = "Help", **fields) -> Ticket:
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role="user", text=subject)
    now = timezone.now()
    return Ticket.objects.create(
        conversation=conversation, subject=subject,
        waiting_since=now - timedelta(minutes=minutes), due_at=now + timedelta(hours=24),
        **fields,
    )  # fmt: skip


def test_the_queue_lists_waiting_tickets_the_longest_waiting_first(admin_client):
    recent = waiting_ticket(minutes=2, subject="Recent")
    oldest = waiting_ticket(minutes=90, subject="Oldest")
    waiting_ticket(minutes=5, subject="Done", status="resolved")
    Ticket.objects.create(conversation=Conversation.objects.create(), subject="Answered")

    page = admin_client.get("/admin/tickets/ticket/queue/").content.decode()

    assert 'data-count="2"' in page
    assert page.index(oldest.number) < page.index(recent.number)
    assert "Done" not in page and "Answered" not in page


def test_the_queue_shows_each_tickets_sla_state(admin_client):
    now = timezone.now()
    late = waiting_ticket(minutes=3)
    Ticket.objects.filter(pk=late.pk).update(due_at=now - timedelta(minutes=1))
    soon = waiting_ticket(minutes=2)
    Ticket.objects.filter(pk=soon.pk).update(due_at=now + timedelta(minutes=30))
    waiting_ticket(minutes=1)

    page = admin_client.get("/admin/tickets/ticket/queue/").content.decode()

    assert page.count("sla-overdue") == 1
    assert page.count("sla-due-soon") == 1
    assert page.count("sla-on-time") == 1


def test_the_queue_page_is_for_those_who_may_view_tickets(client, django_user_model):
    editor = django_user_model.objects.create_user("eve", is_staff=True)
    editor.groups.add(Group.objects.get(name="Content editors"))
    client.force_login(editor, backend="django.contrib.auth.backends.ModelBackend")

    assert client.get("/admin/tickets/ticket/queue/").status_code == 403


def test_an_agent_takes_hands_back_and_closes_from_the_ticket_page(client, django_user_model):
    sam = django_user_model.objects.create_user("sam", is_staff=True)
    sam.groups.add(Group.objects.get(name="Support agents"))
    client.force_login(sam, backend="django.contrib.auth.backends.ModelBackend")
    ticket = waiting_ticket(minutes=1)
    url = f"/admin/tickets/ticket/{ticket.pk}/handoff/"

    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "Take the chat" in page and "Hand back" not in page
    assert client.post(url + "take/").status_code == 302
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "Hand back to the bot" in page and "Take the chat" not in page
    client.post(url + "hand_back/")
    client.post(url + "close/")

    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.assignee == sam
    assert ticket.conversation.agent is None
    assert list(TicketChange.objects.filter(field="chat").values_list("old", "new")) == [
        ("bot", "agent sam"), ("agent sam", "bot"),
    ]  # fmt: skip


def test_the_handoff_buttons_need_a_post_and_the_change_permission(client, django_user_model):
    viewer = django_user_model.objects.create_user("vic", is_staff=True)
    viewer.user_permissions.add(*Group.objects.get(name="Support agents").permissions.filter(
        codename="view_ticket"
    ))  # fmt: skip
    client.force_login(viewer, backend="django.contrib.auth.backends.ModelBackend")
    ticket = waiting_ticket(minutes=1)
    url = f"/admin/tickets/ticket/{ticket.pk}/handoff/take/"

    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert client.post(f"/admin/tickets/ticket/{ticket.pk}/handoff/nonsense/").status_code == 403
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.conversation.agent is None


def test_the_customers_rating_is_shown_on_the_ticket_page_as_text(admin_client):
    ticket = waiting_ticket(minutes=1, status="resolved")
    Ticket.objects.filter(pk=ticket.pk).update(
        csat_score=2, csat_comment="<img src=x onerror=alert(1)>", csat_at=timezone.now()
    )

    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()

    assert "<strong>2/5</strong>" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("page", ["queue/", "", "{ticket}/change/"])
def test_the_queue_and_ticket_pages_take_as_many_queries_for_100_tickets_as_for_10(
    admin_client, admin_user, page
):
    tickets = [waiting_ticket(minutes=n, assignee=admin_user) for n in range(10)]
    url = "/admin/tickets/ticket/" + page.format(ticket=tickets[0].pk)
    admin_client.get(url)  # the session and the content types, cached once
    with_10 = queries(admin_client, url)
    for n in range(90):
        waiting_ticket(minutes=10 + n, assignee=admin_user)

    assert queries(admin_client, url) == with_10
