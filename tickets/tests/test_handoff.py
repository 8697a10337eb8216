"""The live handoff, end to end through the real sockets: an agent takes the chat, hands it
back to the bot (which then answers), closes it (the ticket is resolved and the customer
asked to rate it), and a customer's message on a resolved ticket reopens it and tells its
assignee through the live queue."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Message
from chat.tests.helpers import OPEN, ask, chat_socket
from tickets.handoff import ticket_close, ticket_hand_back, ticket_take
from tickets.models import Ticket, TicketChange
from tickets.tests.test_agent_socket import escalated, logged_in, refused, user_in

pytestmark = pytest.mark.django_db(transaction=True)


def queue_socket(session_key: str | None):
    from helpdesk.asgi import application

    headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    socket = WebsocketCommunicator(application, "/ws/agent/queue/", headers=headers)
    OPEN.append(socket)
    return socket


@pytest.fixture
async def agent(django_user_model):
    return await user_in(
        django_user_model, "sam", ("view_ticket", "change_ticket"), is_staff=True, first_name="Sam"
    )


async def customer(session_key: str):
    socket = chat_socket(session_key)
    assert (await socket.connect(timeout=10))[0]
    return socket


async def frames(socket, n: int) -> list[dict]:
    return [await socket.receive_json_from(timeout=10) for _ in range(n)]


@database_sync_to_async
def trail(ticket: Ticket) -> list[tuple[str, str, str, str]]:
    return [
        (c.field, c.old, c.new, c.changed_by.get_username() if c.changed_by else "customer")
        for c in TicketChange.objects.filter(ticket=ticket).select_related("changed_by")
    ]


async def test_taking_the_chat_tells_the_customer_and_is_on_record(session_key, agent):
    ticket = await escalated(session_key)
    socket = await customer(session_key)

    await database_sync_to_async(ticket_take)(ticket=ticket, agent=agent)

    assert await frames(socket, 2) == [
        {"type": "ticket_status", "number": ticket.number, "status": "open",
         "label": "A person is on it", "rate": False},
        {"type": "agent_joined", "name": "Sam"},
    ]  # fmt: skip
    assert await trail(ticket) == [
        ("status", "New", "Open", "sam"),
        ("assignee", "", "sam", "sam"),
        ("chat", "bot", "agent sam", "sam"),
    ]


async def test_after_a_hand_back_the_bot_answers_the_next_question(demo_kb, session_key, agent):
    ticket = await escalated(session_key)
    await database_sync_to_async(ticket_take)(ticket=ticket, agent=agent)
    socket = await customer(session_key)
    assert await ask(socket, "Are you there?", timeout=15) == [{"type": "done", "message_id": None}]

    await database_sync_to_async(ticket_hand_back)(ticket=ticket, by=agent)
    left = await socket.receive_json_from(timeout=10)
    answer = await ask(socket, "How do I reset my password?", timeout=60)

    assert left["type"] == "agent_left" and left["name"] == "Sam"
    assert "assistant" in left["text"]
    assert any(frame["type"] == "token" for frame in answer)
    assert answer[-1]["type"] == "done" and answer[-1]["message_id"] is not None
    assert await Message.objects.filter(pk=answer[-1]["message_id"], role="assistant").aexists()
    assert ("chat", "agent sam", "bot", "sam") in await trail(ticket)


async def test_handing_back_a_chat_the_bot_has_is_refused(session_key, agent):
    ticket = await escalated(session_key)
    with pytest.raises(ValueError, match="already"):
        await database_sync_to_async(ticket_hand_back)(ticket=ticket, by=agent)


async def test_closing_the_chat_resolves_the_ticket_and_asks_the_customer_to_rate(
    session_key, agent
):
    ticket = await escalated(session_key)
    await database_sync_to_async(ticket_take)(ticket=ticket, agent=agent)
    socket = await customer(session_key)

    await database_sync_to_async(ticket_close)(ticket=ticket, by=agent)

    assert await socket.receive_json_from(timeout=10) == {
        "type": "ticket_status", "number": ticket.number, "status": "resolved",
        "label": "Resolved", "rate": True,
    }  # fmt: skip
    await ticket.arefresh_from_db()
    assert ticket.status == "resolved" and ticket.waiting_since is None


async def test_a_customer_message_on_a_resolved_ticket_reopens_it_and_tells_its_assignee(
    session_key, agent
):
    ticket = await escalated(session_key)
    await database_sync_to_async(ticket_take)(ticket=ticket, agent=agent)
    await database_sync_to_async(ticket_close)(ticket=ticket, by=agent)
    queue = queue_socket(await logged_in(agent))
    assert (await queue.connect(timeout=10))[0]
    socket = await customer(session_key)

    received = await ask(socket, "It still does not work.", timeout=15)
    told = await queue.receive_json_from(timeout=10)

    # The person has the chat, not the bot; the page shows the ticket open again (the
    # status comes through the group, the `done` through the stream: in either order).
    status = {"type": "ticket_status", "number": ticket.number, "status": "open",
              "label": "A person is on it", "rate": False}  # fmt: skip
    if received[0] != status:
        received.append(await socket.receive_json_from(timeout=10))
    assert sorted(received, key=str) == sorted(
        [status, {"type": "done", "message_id": None}], key=str
    )
    assert told == {"type": "queue", "ticket_id": ticket.pk, "number": ticket.number,
                    "reason": "reopened", "assignee_id": agent.pk}  # fmt: skip
    await ticket.arefresh_from_db()
    assert ticket.status == "open" and ticket.waiting_since is not None
    assert ("status", "Resolved", "Open", "customer") in await trail(ticket)


async def test_a_customer_reply_to_a_held_chat_puts_the_ticket_back_in_the_queue(
    session_key, agent
):
    ticket = await escalated(session_key)
    await database_sync_to_async(ticket_take)(ticket=ticket, agent=agent)
    await Ticket.objects.filter(pk=ticket.pk).aupdate(waiting_since=None)  # as after a reply
    queue = queue_socket(await logged_in(agent))
    assert (await queue.connect(timeout=10))[0]
    socket = await customer(session_key)

    await ask(socket, "Here is the screenshot you asked for.", timeout=15)

    assert (await queue.receive_json_from(timeout=10))["reason"] == "reply"
    await ticket.arefresh_from_db()
    assert ticket.status == "open" and ticket.waiting_since is not None


async def test_the_queue_hears_of_a_new_escalation_without_any_customer_data(session_key, agent):
    queue = queue_socket(await logged_in(agent))
    assert (await queue.connect(timeout=10))[0]
    socket = await customer(session_key)

    await socket.send_json_to({"type": "escalate", "email": "pat@example.com"})
    number = (await socket.receive_json_from(timeout=10))["number"]
    told = await queue.receive_json_from(timeout=10)

    assert told["reason"] == "new" and told["number"] == number
    assert set(told) == {"type", "ticket_id", "number", "reason", "assignee_id"}


async def test_only_staff_who_may_view_tickets_may_open_the_queue_socket(
    session_key, django_user_model
):
    outsider = await user_in(django_user_model, "pat", ("view_ticket",))
    editor = await user_in(django_user_model, "eve", ("view_article",), is_staff=True)

    assert await refused(queue_socket(None))
    assert await refused(queue_socket(session_key))  # a customer's chat session
    assert await refused(queue_socket(await logged_in(outsider)))  # not staff
    assert await refused(queue_socket(await logged_in(editor)))  # staff, not tickets


async def test_the_customer_rates_a_resolved_ticket_once(session_key, agent):
    ticket = await escalated(session_key)
    await database_sync_to_async(ticket_close)(ticket=ticket, by=agent)
    socket = await customer(session_key)

    await socket.send_json_to({"type": "rate", "score": 4, "comment": " Quick and kind. "})
    first = await socket.receive_json_from(timeout=10)
    await socket.send_json_to({"type": "rate", "score": 1})
    second = await socket.receive_json_from(timeout=10)

    assert first == {"type": "rated"}
    assert second["type"] == "error" and second["code"] == "cannot_rate"
    await ticket.arefresh_from_db()
    assert (ticket.csat_score, ticket.csat_comment) == (4, "Quick and kind.")
    assert ticket.csat_at is not None


async def test_a_ticket_that_is_not_resolved_cannot_be_rated(session_key):
    await escalated(session_key)
    socket = await customer(session_key)

    await socket.send_json_to({"type": "rate", "score": 5})
    refusal = await socket.receive_json_from(timeout=10)

    assert refusal["code"] == "cannot_rate" and "resolved" in refusal["message"]


@pytest.mark.parametrize("frame", [
    {"score": 0}, {"score": 6}, {"score": "5"}, {"score": True}, {"score": 4.5}, {},
    {"score": 3, "comment": 7}, {"score": 3, "comment": "x" * 2001},
    {"score": 3, "comment": "bad \x00 byte"},
])  # fmt: skip
async def test_a_rating_that_is_not_a_whole_number_from_1_to_5_is_refused(session_key, frame):
    ticket = await escalated(session_key)
    await Ticket.objects.filter(pk=ticket.pk).aupdate(status="resolved")
    socket = await customer(session_key)

    await socket.send_json_to({"type": "rate", **frame})
    refusal = await socket.receive_json_from(timeout=10)

    assert refusal["type"] == "error" and refusal["code"] == "bad_rating"
    assert await Ticket.objects.filter(pk=ticket.pk, csat_score=None).aexists()


async def test_escalating_again_reopens_a_resolved_ticket(session_key, agent):
    ticket = await escalated(session_key)
    await database_sync_to_async(ticket_close)(ticket=ticket, by=agent)

    again = await escalated(session_key)

    assert again.pk == ticket.pk
    await ticket.arefresh_from_db()
    assert ticket.status == "open" and ticket.waiting_since is not None


async def test_a_customer_socket_never_hears_the_staff_queue(session_key, agent):
    queue = queue_socket(await logged_in(agent))
    assert (await queue.connect(timeout=10))[0]
    socket = await customer(session_key)

    await escalated(session_key)  # tells the queue
    await queue.receive_json_from(timeout=10)

    assert await socket.receive_nothing(timeout=1)


async def test_a_queue_page_open_for_a_whole_shift_stays_in_its_group(
    session_key, agent, monkeypatch
):
    from channels.layers import get_channel_layer

    from tickets import consumers
    from tickets.services import QUEUE_GROUP

    monkeypatch.setattr(consumers, "QUEUE_REJOIN_SECONDS", 0.2)
    queue = queue_socket(await logged_in(agent))
    assert (await queue.connect(timeout=10))[0]
    # What channels-redis's group_expiry, or a Redis restart, does to a member.
    layer = get_channel_layer()
    await layer.connection(layer.consistent_hash(QUEUE_GROUP)).delete(layer._group_key(QUEUE_GROUP))

    await asyncio.sleep(0.5)
    await escalated(session_key)

    assert (await queue.receive_json_from(timeout=10))["reason"] == "new"
