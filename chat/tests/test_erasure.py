import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.cache import SessionStore
from django.core.management import CommandError, call_command

from chat.erasure import ERASED, session_erase
from chat.history import history_append, history_load
from chat.models import Conversation, Message, ReviewSample
from chat.tests.helpers import chat_socket
from tickets.models import Ticket, TicketChange, TicketNote
from tickets.services import ticket_reply


def _redis_keys(session_key: str) -> list[bytes]:
    """Every Redis key that names the session: its chat history and its Django session."""
    return redis.from_url(settings.REDIS_URL).keys(f"*{session_key}*")


def _customer(session_key: str, email: str = "") -> Conversation:
    """A customer who talked to the bot (history in Redis, a sampled answer), and escalated
    with an email address when one is given."""
    conversation = Conversation.objects.create(session_key=session_key)
    Message.objects.create(conversation=conversation, role="user", text="I'm ana@example.com")
    answer = Message.objects.create(conversation=conversation, role="assistant", text="Hi Ana")
    ReviewSample.objects.create(message=answer, question="I'm [email]", answer="Hi Ana")
    async_to_sync(history_append)(session_key=session_key, user="I'm Ana", assistant="Hi Ana")
    if email:
        ticket = Ticket.objects.create(
            conversation=conversation, email=email, customer_name="Ana Lopez", subject="I'm Ana"
        )
        TicketNote.objects.create(ticket=ticket, text="Ana called from +44 20 7946 0958")
        TicketChange.objects.create(ticket=ticket, field="status", old="New", new="Open")
    return conversation


def _assert_anonymised(ticket: Ticket) -> None:
    ticket.refresh_from_db()
    assert (ticket.customer_name, ticket.email, ticket.subject) == ("", "", ERASED)
    assert {m.text for m in ticket.conversation.messages.all()} == {ERASED}
    assert {(s.question, s.answer) for s in ReviewSample.objects.all()} == {(ERASED, ERASED)}
    assert ticket.notes.get().text == ERASED
    # The desk's own record stays: number, status and the audit trail.
    assert ticket.changes.get().new == "Open"
    assert ticket.conversation.anonymised_at is not None


def test_the_command_erases_a_session_in_postgres_and_redis(db, session_key, capsys):
    _customer(session_key)
    assert len(_redis_keys(session_key)) == 2

    call_command("erase_session", session_key)

    assert not Conversation.objects.exists()
    assert not Message.objects.exists() and not ReviewSample.objects.exists()
    assert _redis_keys(session_key) == []
    out = capsys.readouterr().out
    assert "conversation deleted with 2 message(s)" in out
    assert "1 history list(s), 1 session(s) deleted" in out


def test_a_ticket_is_anonymised_rather_than_deleted(db, session_key, capsys):
    ticket = _customer(session_key, email="ana@example.com").ticket

    call_command("erase_session", ticket.number.lower())

    _assert_anonymised(ticket)
    assert Ticket.objects.get().number == ticket.number
    assert not Conversation.objects.filter(session_key=session_key).exists()
    assert _redis_keys(session_key) == []
    assert f"ticket {ticket.number} anonymised, 2 message(s) erased" in capsys.readouterr().out


def test_an_email_address_erases_every_session_that_gave_it(db):
    first, second = SessionStore(), SessionStore()
    first.create()
    second.create()
    _customer(first.session_key, email="ana@example.com")
    _customer(second.session_key, email="ANA@example.com")
    _customer("someone-else", email="bo@example.com")

    call_command("erase_session", "ana@example.com")

    assert list(Ticket.objects.exclude(email="").values_list("email", flat=True)) == [
        "bo@example.com"
    ]
    assert _redis_keys(first.session_key) == [] and _redis_keys(second.session_key) == []
    assert len(_redis_keys("someone-else")) == 1


def test_an_unknown_ticket_number_is_an_error(db):
    with pytest.raises(CommandError, match="No ticket has 'HD-ZZZZZZ'"):
        call_command("erase_session", "HD-ZZZZZZ")


def test_erasing_twice_is_safe(db, session_key):
    ticket = _customer(session_key, email="ana@example.com").ticket
    session_erase(session_key=session_key)
    again = session_erase(session_key=session_key)

    assert (again.conversation_deleted, again.tickets_anonymised) == (False, [])
    assert (again.redis_history, again.redis_session) == (0, 0)
    _assert_anonymised(ticket)


def test_an_administrator_erases_from_the_conversation_admin(admin_client, session_key):
    conversation = _customer(session_key)
    response = admin_client.post(
        "/admin/chat/conversation/",
        {"action": "erase_customer_data", "_selected_action": [conversation.pk]},
        follow=True,
    )
    assert "conversation deleted with 2 message(s)" in response.content.decode()
    assert not Conversation.objects.exists()
    assert _redis_keys(session_key) == []


def test_an_administrator_erases_from_the_ticket_admin(admin_client, session_key):
    ticket = _customer(session_key, email="ana@example.com").ticket
    response = admin_client.post(
        "/admin/tickets/ticket/",
        {"action": "erase_customer_data", "_selected_action": [ticket.pk]},
        follow=True,
    )
    assert f"ticket {ticket.number} anonymised" in response.content.decode()
    _assert_anonymised(ticket)
    assert _redis_keys(session_key) == []


def test_a_support_agent_cannot_erase(client, django_user_model, session_key):
    user = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Support agents"))
    client.force_login(user)
    ticket = _customer(session_key, email="ana@example.com").ticket

    page = client.get("/admin/tickets/ticket/").content.decode()
    assert "erase_customer_data" not in page
    client.post(
        "/admin/tickets/ticket/",
        {"action": "erase_customer_data", "_selected_action": [ticket.pk]},
    )
    ticket.refresh_from_db()
    assert ticket.email == "ana@example.com"
    assert len(_redis_keys(session_key)) == 2


@pytest.mark.django_db(transaction=True)
async def test_the_erased_session_no_longer_sees_its_history(session_key, admin_user):
    ticket = await database_sync_to_async(lambda: _customer(session_key, "ana@x.org").ticket)()
    await database_sync_to_async(ticket_reply)(ticket=ticket, agent=admin_user, text="Fixed.")

    await database_sync_to_async(session_erase)(session_key=session_key)

    # Before the erasure this socket would be shown the agent's reply at once; now its
    # cookie names no session, and the agent's reply is "[erased]" anyway.
    socket = chat_socket(session_key)
    await socket.connect()
    assert (await socket.receive_json_from(timeout=5))["code"] == "no_session"
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    assert await history_load(session_key=session_key) == []
    assert not await database_sync_to_async(SessionStore().exists)(session_key)
