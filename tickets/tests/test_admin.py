from chat.models import Conversation, Message
from tickets.models import Ticket


def form_data(**fields) -> dict:
    """A ticket change-form POST, with the notes and history inlines' management forms."""
    data = {"status": "new", "priority": "normal", "assignee": "", "customer_name": "",
            "email": "", "subject": "Help me", "reply": ""}  # fmt: skip
    for prefix in ("notes", "changes"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data | fields


def _ticket() -> Ticket:
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role="user", text="<b>Help</b> me")
    Message.objects.create(
        conversation=conversation, role="assistant", text="Try <script>x</script>"
    )
    return Ticket.objects.create(conversation=conversation, subject="Help me")


def test_agents_see_escalated_tickets_in_the_list(admin_client):
    ticket = _ticket()
    response = admin_client.get("/admin/tickets/ticket/")
    page = response.content.decode()

    assert response.status_code == 200
    assert ticket.number in page
    assert "New" in page and "Normal" in page


def test_the_ticket_page_shows_the_escaped_transcript(admin_client):
    ticket = _ticket()
    response = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    page = response.content.decode()

    assert response.status_code == 200
    assert "&lt;b&gt;Help&lt;/b&gt; me" in page
    assert "Try &lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page


def test_agents_can_assign_and_change_status(admin_client, admin_user):
    ticket = _ticket()
    response = admin_client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        form_data(status="open", priority="high", assignee=admin_user.pk),
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assignee) == ("open", "high", admin_user)


def test_an_agent_replies_from_the_ticket_page(admin_client, admin_user):
    ticket = _ticket()
    response = admin_client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        form_data(status="open", reply="We are on it."),
    )
    assert response.status_code == 302
    reply = Message.objects.get(role="agent")
    assert (reply.text, reply.author, reply.delivered) == ("We are on it.", admin_user, False)
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert ticket.conversation.agent == admin_user
