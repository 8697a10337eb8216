import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from chat.history import history_append, history_load
from chat.models import Conversation, Message, ReviewSample
from chat.tests.helpers import ask, chat_socket, key_of
from insights.models import ContentGap, GapQuestion
from privacy.erasure import ERASED, conversation_erase
from tickets.models import Ticket, TicketChange, TicketNote
from tickets.services import ticket_escalate, ticket_reply


def _redis_keys(key: str) -> list[bytes]:
    """Every Redis key that names the conversation: its chat history."""
    return redis.from_url(settings.REDIS_URL).keys(f"*{key}*")


def _customer(key: str, email: str = "") -> Conversation:
    """A customer who talked to the bot (history in Redis, a sampled answer), and escalated
    with an email address when one is given. `key`: the conversation's token hash."""
    conversation = Conversation.objects.create(token_hash=key)
    Message.objects.create(conversation=conversation, role="user", text="I'm ana@example.com")
    answer = Message.objects.create(conversation=conversation, role="assistant", text="Hi Ana")
    ReviewSample.objects.create(message=answer, question="I'm [email]", answer="Hi Ana")
    question = conversation.messages.get(role="user")
    GapQuestion.objects.create(
        gap=ContentGap.objects.create(label="Who is Ana?"), message=question,
        text="I'm [email], Ana Lopez", reason="refused", asked_at=question.created_at,
    )  # fmt: skip
    async_to_sync(history_append)(key=key, user="I'm Ana", assistant="Hi Ana")
    if email:
        ticket = Ticket.objects.create(
            conversation=conversation, email=email, customer_name="Ana Lopez", subject="I'm Ana",
            status="resolved", csat_score=4, csat_comment="Thanks, this is Ana Lopez",
        )  # fmt: skip
        TicketNote.objects.create(ticket=ticket, text="Ana called from +44 20 7946 0958")
        TicketChange.objects.create(ticket=ticket, field="status", old="New", new="Open")
    return conversation


def _assert_anonymised(ticket: Ticket) -> None:
    ticket.refresh_from_db()
    assert (ticket.customer_name, ticket.email, ticket.subject) == ("", "", ERASED)
    # The rating's comment is the customer's words; the score is the desk's figure.
    assert (ticket.csat_score, ticket.csat_comment) == (4, ERASED)
    assert {m.text for m in ticket.conversation.messages.all()} == {ERASED}
    assert {(s.question, s.answer) for s in ReviewSample.objects.all()} == {(ERASED, ERASED)}
    assert not GapQuestion.objects.exists()  # nor collected again: insights/test_gaps.py
    assert ticket.notes.get().text == ERASED
    # The desk's own record stays: number, status and the audit trail.
    assert ticket.changes.get().new == "Open"
    assert ticket.conversation.anonymised_at is not None


def test_the_command_erases_a_conversation_in_postgres_and_redis(db, session_key, capsys):
    key = key_of(session_key)
    conversation = _customer(key)
    assert len(_redis_keys(key)) == 1

    call_command("erase_customer", str(conversation.pk))

    assert not Conversation.objects.exists()
    assert not Message.objects.exists() and not ReviewSample.objects.exists()
    assert _redis_keys(key) == []
    out = capsys.readouterr().out
    assert "conversation deleted with 2 message(s)" in out
    assert "1 history list(s) deleted" in out


def test_a_ticket_is_anonymised_rather_than_deleted(db, session_key, capsys):
    key = key_of(session_key)
    ticket = _customer(key, email="ana@example.com").ticket

    call_command("erase_customer", ticket.number.lower())

    _assert_anonymised(ticket)
    assert Ticket.objects.get().number == ticket.number
    assert not Conversation.objects.filter(token_hash=key).exists()
    assert _redis_keys(key) == []
    assert f"ticket {ticket.number} anonymised, 2 message(s) erased" in capsys.readouterr().out


def test_an_email_address_erases_every_session_that_gave_it(db):
    first, second, other = "a" * 64, "b" * 64, "c" * 64
    _customer(first, email="ana@example.com")
    _customer(second, email="ANA@example.com")
    _customer(other, email="bo@example.com")

    call_command("erase_customer", "ana@example.com")

    assert list(Ticket.objects.exclude(email="").values_list("email", flat=True)) == [
        "bo@example.com"
    ]
    assert _redis_keys(first) == [] and _redis_keys(second) == []
    assert len(_redis_keys(other)) == 1


def test_an_unknown_ticket_number_is_an_error(db):
    with pytest.raises(CommandError, match="No conversation or ticket has 'HD-ZZZZZZ'"):
        call_command("erase_customer", "HD-ZZZZZZ")


def test_a_session_key_is_not_an_identifier_any_more(db, session_key):
    _customer(key_of(session_key))
    with pytest.raises(CommandError, match="Give a conversation id"):
        call_command("erase_customer", session_key)


def test_erasing_twice_is_safe(db, session_key):
    ticket = _customer(key_of(session_key), email="ana@example.com").ticket
    conversation_erase(conversation_id=ticket.conversation_id)
    again = conversation_erase(conversation_id=ticket.conversation_id)

    assert (again.conversation_deleted, again.tickets_anonymised) == (False, [ticket.number])
    assert again.redis_history == 0
    _assert_anonymised(ticket)


def test_erasing_the_customer_erases_their_addresses_from_the_history(db):
    ticket = ticket_escalate(conversation=Conversation.objects.create(), email="pat@example.com")
    ticket_escalate(conversation=ticket.conversation, email="pat@work.example")

    conversation_erase(conversation_id=ticket.conversation_id)

    change = TicketChange.objects.get(field="email")
    assert "@" not in change.old + change.new


def test_an_administrator_erases_from_the_conversation_admin(admin_client, session_key):
    conversation = _customer(key_of(session_key))
    response = admin_client.post(
        "/admin/chat/conversation/",
        {"action": "erase_customer_data", "_selected_action": [conversation.pk]},
        follow=True,
    )
    assert "conversation deleted with 2 message(s)" in response.content.decode()
    assert not Conversation.objects.exists()
    assert _redis_keys(key_of(session_key)) == []


def test_an_administrator_erases_from_the_ticket_admin(admin_client, session_key):
    ticket = _customer(key_of(session_key), email="ana@example.com").ticket
    response = admin_client.post(
        "/admin/tickets/ticket/",
        {"action": "erase_customer_data", "_selected_action": [ticket.pk]},
        follow=True,
    )
    assert f"ticket {ticket.number} anonymised" in response.content.decode()
    _assert_anonymised(ticket)
    assert _redis_keys(key_of(session_key)) == []


def test_a_support_agent_cannot_erase(client, django_user_model, session_key):
    user = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Support agents"))
    client.force_login(user)
    ticket = _customer(key_of(session_key), email="ana@example.com").ticket

    page = client.get("/admin/tickets/ticket/").content.decode()
    assert "erase_customer_data" not in page
    client.post(
        "/admin/tickets/ticket/",
        {"action": "erase_customer_data", "_selected_action": [ticket.pk]},
    )
    ticket.refresh_from_db()
    assert ticket.email == "ana@example.com"
    assert len(_redis_keys(key_of(session_key))) == 1


@pytest.mark.django_db(transaction=True)
async def test_the_erased_session_no_longer_sees_its_conversation(demo_kb, session_key, admin_user):
    key = await database_sync_to_async(key_of)(session_key)
    ticket = await database_sync_to_async(lambda: _customer(key, "ana@x.org").ticket)()
    await database_sync_to_async(ticket_reply)(ticket=ticket, agent=admin_user, text="Fixed.")

    await database_sync_to_async(conversation_erase)(conversation_id=ticket.conversation_id)

    # Before the erasure this socket would be shown the agent's reply at once, and the
    # bot would stay silent (an agent has the chat); now the session leads nowhere: the
    # bot answers in a new conversation, with no history.
    socket = chat_socket(session_key)
    assert (await socket.connect())[0]
    messages = await ask(socket, "How do I reset my password?")
    assert not [m for m in messages if m["type"] == "agent"]
    assert any(m["type"] in ("token", "refusal", "fallback") for m in messages)
    # The new conversation remembers only its own turn, none of the erased one's.
    assert [t["user"] for t in await history_load(key=key)] == ["How do I reset my password?"]
    assert await Conversation.objects.filter(token_hash=key).acount() == 1


def test_a_signed_identity_is_erased_and_found_by_its_email(db):
    """A widget conversation whose host site signed the customer's email, with no ticket."""
    signed = Conversation.objects.create(
        token_hash="d" * 64, verified_id="u-42", verified_email="ana@example.com",
        page_url="https://shop.example/account", page_title="Ana's account",
    )  # fmt: skip
    escalated = _customer("e" * 64, email="x@example.com").ticket.conversation
    Conversation.objects.filter(pk=escalated.pk).update(
        verified_id="u-42", verified_email="ana@example.com"
    )

    call_command("erase_customer", "ana@example.com")

    assert not Conversation.objects.filter(pk=signed.pk).exists()
    kept = Conversation.objects.get(pk=escalated.pk)
    fields = (kept.verified_id, kept.verified_email, kept.page_url, kept.page_title)
    assert fields == ("", "", "", "")
