"""Redis really stopped (SIGKILL) and restarted under a live chat: a Redis of the test's
own (the `own_redis` fixture), so the shared test Redis keeps serving other tests."""

import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.cache import SessionStore
from django.test import Client
from django.utils import timezone

from chat.consumers import LIVE_PAUSED_MESSAGE
from chat.history import history_from_transcript
from chat.middleware import CLOSE_TRY_AGAIN_LATER
from chat.models import Conversation, Message
from chat.services import session_chat_token
from chat.tests.helpers import chat_socket, delivered_soon, key_of
from core.degraded import DEGRADED_MESSAGE
from tickets.models import Ticket
from tickets.services import ticket_escalate, ticket_reply

pytestmark = pytest.mark.django_db(transaction=True)

PAUSED = {"type": "error", "code": "service_degraded", "message": LIVE_PAUSED_MESSAGE}


@pytest.fixture
def own_session(own_redis):
    """A customer's session, stored in the test's own Redis."""
    session = SessionStore()
    session.create()
    session_chat_token(session=session)
    return session.session_key


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user("sam", is_staff=True, first_name="Sam")


async def _answer(socket, text: str) -> list[dict]:
    """The frames of one answer up to `done`, leaving out a "live replies paused" notice."""
    await socket.send_json_to({"type": "message", "text": text})
    received = []
    while not received or received[-1]["type"] != "done":
        message = await socket.receive_json_from(timeout=90)
        assert message["type"] != "error" or message == PAUSED, message
        if message != PAUSED:
            received.append(message)
    return received


async def _transcript(key: str | None, turns: list[tuple[str, str]]) -> Conversation:
    """A conversation with these turns; `key`: a session's token hash, or none."""
    conversation = await Conversation.objects.acreate(**({"token_hash": key} if key else {}))
    for question, answer in turns:
        await Message.objects.acreate(conversation=conversation, role="user", text=question)
        await Message.objects.acreate(conversation=conversation, role="assistant", text=answer)
    return conversation


async def test_history_comes_from_the_transcript_while_redis_is_down(
    demo_kb, own_redis, own_session
):
    await _transcript(
        key_of(own_session),
        [
            ("How do I reset my password?", "Use the reset link on the sign-in page."),
            ("How long is the link valid?", "For one hour."),
        ],
    )
    socket = chat_socket(own_session)
    await socket.connect()
    own_redis.kill()

    received = await _answer(socket, "And if it has expired?")
    await socket.disconnect()

    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.history_turns == 2
    assert reply.text


async def test_the_transcript_history_keeps_only_answered_recent_turns(db, settings):
    settings.CHAT_HISTORY_TURNS = 2
    conversation = await _transcript(
        None, [("q1", "a1"), ("q2", "a2"), ("q3", "a3"), ("q4", "a4"), ("q5", "a5")]
    )
    await Message.objects.filter(conversation=conversation, text="a5").aupdate(fallback=True)
    current = await Message.objects.acreate(conversation=conversation, role="user", text="q6")

    turns = await history_from_transcript(conversation_id=conversation.pk, before_id=current.pk)

    # q5 got only the fallback, never remembered in Redis either; q6 is being asked now.
    assert turns == [{"user": "q3", "assistant": "a3"}, {"user": "q4", "assistant": "a4"}]


async def test_the_transcript_history_forgets_an_idle_session_like_redis(db, settings):
    conversation = await _transcript(None, [("q1", "a1")])
    idle = timezone.now() - timedelta(seconds=settings.CHAT_HISTORY_TTL + 60)
    await Message.objects.filter(conversation=conversation).aupdate(created_at=idle)
    current = await Message.objects.acreate(conversation=conversation, role="user", text="q2")

    assert (
        await history_from_transcript(conversation_id=conversation.pk, before_id=current.pk) == []
    )


async def test_the_customer_hears_when_live_replies_pause_and_gets_them_after(
    demo_kb, own_redis, own_session, agent
):
    socket = chat_socket(own_session)
    await socket.connect()
    own_redis.kill()

    # Told without asking anything: the socket's channel-layer read failed.
    assert await socket.receive_json_from(timeout=15) == PAUSED
    received = await _answer(socket, "How do I reset my password?")
    assert "token" in [m["type"] for m in received]

    # An agent replies meanwhile: saved (the admin does not fail), but nothing to push it.
    conversation = await Conversation.objects.aget()
    ticket = await database_sync_to_async(ticket_escalate)(conversation=conversation)
    saved = await database_sync_to_async(ticket_reply)(ticket=ticket, agent=agent, text="Hi")
    assert not (await Message.objects.aget(pk=saved.pk)).delivered
    assert await socket.receive_nothing(timeout=1)

    own_redis.start()
    # The socket rejoins its group by itself and delivers what waited.
    assert await socket.receive_json_from(timeout=20) == {
        "type": "agent",
        "text": "Hi",
        "name": "Sam",
    }
    assert await delivered_soon(saved.pk)
    # And live replies flow again.
    ticket = await Ticket.objects.select_related("conversation").aget(pk=ticket.pk)
    await database_sync_to_async(ticket_reply)(ticket=ticket, agent=agent, text="Still there?")
    assert await socket.receive_json_from(timeout=10) == {
        "type": "agent",
        "text": "Still there?",
        "name": "Sam",
    }
    await socket.disconnect()


async def test_a_socket_opened_while_redis_is_down_gets_a_clear_error(own_redis, own_session):
    own_redis.kill()
    socket = chat_socket(own_session)

    connected, _ = await socket.connect(timeout=10)

    assert connected
    assert await socket.receive_json_from(timeout=10) == {
        "type": "error",
        "code": "service_degraded",
        "message": DEGRADED_MESSAGE,
    }
    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}


def test_the_page_says_degraded_while_redis_is_down_and_recovers(own_redis):
    client = Client(raise_request_exception=False)
    assert client.get("/").status_code == 200
    own_redis.kill()

    start = time.perf_counter()
    response = client.get("/")
    waited = time.perf_counter() - start

    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "degraded" in page
    assert "Traceback" not in page and "redis" not in page.lower()
    assert waited < 5

    own_redis.start()  # an empty Redis: the old session is gone, a new one starts
    response = client.get("/")
    assert response.status_code == 200
    assert 'id="question"' in response.content.decode()
