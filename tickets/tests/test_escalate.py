import pytest

from chat.models import Conversation, Message
from chat.tests.helpers import ask, chat_socket, key_of
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


async def _escalate(socket, **fields) -> dict:
    await socket.send_json_to({"type": "escalate", **fields})
    return await socket.receive_json_from(timeout=10)


async def test_escalation_makes_one_ticket_holding_every_message(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    await ask(socket, "How do I cancel my subscription?")
    await ask(socket, "Will I get a refund?")

    first = await _escalate(socket, email="pat@example.com")
    # A double click: the second escalation finds the same ticket.
    second = await _escalate(socket)
    await socket.disconnect()

    assert first["type"] == second["type"] == "ticket"
    assert first["number"] == second["number"]
    assert first["number"].startswith("HD-")
    ticket = await Ticket.objects.select_related("conversation").aget()
    assert ticket.number == first["number"]
    assert ticket.email == "pat@example.com"
    assert ticket.subject == "How do I cancel my subscription?"
    texts = [m.text async for m in Message.objects.filter(conversation=ticket.conversation)]
    assert len(texts) == 4
    assert texts[0] == "How do I cancel my subscription?"
    assert texts[2] == "Will I get a refund?"
    assert ticket.conversation.token_hash == key_of(session_key)


async def test_a_customer_can_ask_for_a_human_before_asking_anything(session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    reply = await _escalate(socket)
    await socket.disconnect()

    assert reply["type"] == "ticket"
    ticket = await Ticket.objects.aget(number=reply["number"])
    assert ticket.subject == "Customer asked for a human"


async def test_it_rejects_a_malformed_email_and_creates_nothing(session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    reply = await _escalate(socket, email="not-an-email")
    await socket.disconnect()

    assert reply["type"] == "error"
    assert reply["code"] == "bad_email"
    assert not await Ticket.objects.aexists()


def test_escalating_twice_from_two_tabs_yields_one_ticket(db):
    from tickets.services import ticket_escalate

    conversation = Conversation.objects.create()
    a = ticket_escalate(conversation=conversation)
    b = ticket_escalate(conversation=Conversation.objects.get(pk=conversation.pk), email="x@y.io")
    assert a.pk == b.pk
    assert Ticket.objects.get().email == "x@y.io"
