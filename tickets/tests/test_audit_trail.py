from datetime import timedelta

from django.utils import timezone

from chat.models import Conversation
from tickets.models import Ticket, TicketChange, TicketNote
from tickets.services import ticket_escalate
from tickets.tests.test_admin import form_data


def _escalated(key="s") -> Ticket:
    return ticket_escalate(conversation=Conversation.objects.create(token_hash=key))


def test_every_change_of_status_priority_and_assignee_is_recorded(admin_client, admin_user):
    ticket = _escalated()
    admin_client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        form_data(status="open", priority="urgent", assignee=admin_user.pk),
    )

    changes = {(c.field, c.old, c.new, c.changed_by) for c in TicketChange.objects.all()}
    assert changes == {
        ("status", "New", "Open", admin_user),
        ("priority", "Normal", "Urgent", admin_user),
        ("assignee", "", "admin", admin_user),
    }
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "History" in page and "Urgent" in page


def test_saving_without_changes_records_nothing(admin_client):
    ticket = _escalated()
    admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", form_data())
    assert not TicketChange.objects.exists()


def test_the_due_time_follows_the_priority(admin_client, settings):
    ticket = _escalated()
    assert ticket.sla_due() - ticket.created_at == timedelta(
        hours=settings.TICKET_SLA_HOURS["normal"]
    )
    Ticket.objects.filter(pk=ticket.pk).update(due_at=ticket.sla_due())
    admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", form_data(priority="urgent"))
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.created_at + timedelta(hours=settings.TICKET_SLA_HOURS["urgent"])


def test_agents_add_internal_notes(admin_client, admin_user):
    ticket = _escalated()
    data = form_data() | {"notes-TOTAL_FORMS": "1", "notes-0-text": "Customer is on the Team plan."}
    response = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", data)
    assert response.status_code == 302
    note = TicketNote.objects.get()
    assert (note.text, note.author) == ("Customer is on the Team plan.", admin_user)


def test_the_overdue_filter_shows_only_late_open_tickets(admin_client):
    late, on_time, done = _escalated("a"), _escalated("b"), _escalated("c")
    past = timezone.now() - timedelta(hours=1)
    Ticket.objects.filter(pk__in=[late.pk, done.pk]).update(due_at=past)
    Ticket.objects.filter(pk=done.pk).update(status="resolved")

    page = admin_client.get("/admin/tickets/ticket/?overdue=1").content.decode()
    assert late.number in page
    assert on_time.number not in page and done.number not in page
    assert "overdue since" in page


def test_the_mine_filter_and_the_assign_to_me_action(admin_client, admin_user):
    mine, other = _escalated("a"), _escalated("b")
    admin_client.post(
        "/admin/tickets/ticket/",
        {"action": "assign_to_me", "_selected_action": [mine.pk]},
    )
    page = admin_client.get("/admin/tickets/ticket/?mine=1").content.decode()
    assert mine.number in page and other.number not in page
    assert TicketChange.objects.get().field == "assignee"


def test_the_ticket_list_runs_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    for n in range(10):
        _escalated(f"ten-{n}")
    with django_assert_max_num_queries(12) as ten:
        admin_client.get("/admin/tickets/ticket/")
    for n in range(90):
        _escalated(f"more-{n}")
    with django_assert_max_num_queries(len(ten.captured_queries)):
        response = admin_client.get("/admin/tickets/ticket/")
    assert response.status_code == 200
