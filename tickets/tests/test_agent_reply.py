import pytest
from channels.db import database_sync_to_async
from django.core import mail

from chat.models import Conversation, Message
from chat.tests.helpers import ask, chat_socket, key_of
from tickets.models import ReplyEmail, Ticket
from tickets.services import ticket_escalate, ticket_reply
from tickets.tasks import send_reply_email

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user(
        "sam", password="x", is_staff=True, first_name="Sam", last_name="Agent"
    )


@database_sync_to_async
def _escalated(session_key: str, email: str = "") -> Ticket:
    conversation, _ = Conversation.objects.get_or_create(token_hash=key_of(session_key))
    return ticket_escalate(conversation=conversation, email=email)


async def test_an_agent_reply_reaches_the_connected_customer(session_key, agent):
    ticket = await _escalated(session_key)
    socket = chat_socket(session_key)
    await socket.connect()

    message = await database_sync_to_async(ticket_reply)(
        ticket=ticket, agent=agent, text="Hi, I'm looking into it."
    )

    assert await socket.receive_json_from(timeout=10) == {
        "type": "agent_joined",
        "name": "Sam Agent",
    }
    assert await socket.receive_json_from(timeout=10) == {
        "type": "agent",
        "text": "Hi, I'm looking into it.",
        "name": "Sam Agent",
    }
    await socket.disconnect()
    assert (await Message.objects.aget(pk=message.pk)).delivered


async def test_a_reply_written_while_the_customer_was_away_arrives_when_they_return(
    session_key, agent
):
    ticket = await _escalated(session_key, email="pat@example.com")
    await database_sync_to_async(ticket_reply)(ticket=ticket, agent=agent, text="Fixed it.")

    socket = chat_socket(session_key)
    await socket.connect()
    assert await socket.receive_json_from(timeout=10) == {
        "type": "agent",
        "text": "Fixed it.",
        "name": "Sam Agent",
    }
    await socket.disconnect()
    # The customer left an address, so the reply goes by email too, from a Celery task
    # (run here in this process; tickets/tests/test_reply_email.py runs a real worker).
    reply_email = await ReplyEmail.objects.aget(ticket=ticket)
    await database_sync_to_async(send_reply_email.apply)(args=[reply_email.pk])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["pat@example.com"]
    assert ticket.number in mail.outbox[0].subject


async def test_the_bot_stays_silent_while_an_agent_has_the_chat(demo_kb, session_key, agent):
    ticket = await _escalated(session_key)
    await database_sync_to_async(ticket_reply)(ticket=ticket, agent=agent, text="I'm here.")
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.receive_json_from(timeout=10)  # the agent's message

    received = await ask(socket, "How do I reset my password?", timeout=15)
    await socket.disconnect()

    assert received == [{"type": "done", "message_id": None}]
    roles = [m.role async for m in Message.objects.filter(conversation_id=ticket.conversation_id)]
    assert roles == ["agent", "user"]
    assert not await Message.objects.filter(role="assistant").aexists()


async def test_an_empty_reply_is_refused(session_key, agent):
    ticket = await _escalated(session_key)
    with pytest.raises(ValueError, match="empty"):
        await database_sync_to_async(ticket_reply)(ticket=ticket, agent=agent, text="   ")
