"""Every frame type has a budget per socket, and every address a limit of open sockets."""

import pytest
from django.contrib.sessions.backends.cache import SessionStore

from chat.services import session_chat_token
from chat.tests.helpers import chat_socket

pytestmark = pytest.mark.django_db(transaction=True)

FEEDBACK = {"type": "feedback", "message_id": 999999, "value": "up"}


@pytest.fixture
def budget(settings):
    settings.CHAT_SOCKET_BURST = 5
    settings.CHAT_SOCKET_FRAMES_PER_MINUTE = 6
    return settings


async def _replies(socket) -> list[dict]:
    replies = []
    while not await socket.receive_nothing(timeout=0.5):
        replies.append(await socket.receive_json_from())
    return replies


async def test_a_flood_of_feedback_frames_is_cut_off_after_the_burst(session_key, budget):
    socket = chat_socket(session_key)
    await socket.connect()
    for _ in range(20):
        await socket.send_json_to(FEEDBACK)

    replies = await _replies(socket)
    # Five answered (each one a database trip), one notice, and silence after it.
    assert [r["code"] for r in replies] == ["bad_feedback"] * 5 + ["rate_limited"]
    assert replies[-1]["retry_after"] >= 1


async def test_each_frame_type_has_a_budget_of_its_own(session_key, budget):
    socket = chat_socket(session_key)
    await socket.connect()
    for _ in range(6):
        await socket.send_json_to(FEEDBACK)
    await _replies(socket)

    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from())["code"] == "bad_json"


async def test_a_socket_that_keeps_on_past_its_budget_is_closed(session_key, budget):
    socket = chat_socket(session_key)
    await socket.connect()
    for _ in range(60):
        await socket.send_to(text_data="not json")

    outputs = []
    while not await socket.receive_nothing(timeout=0.5):
        outputs.append(await socket.receive_output())
    assert outputs[-1] == {"type": "websocket.close", "code": 4429}


def _session() -> str:
    session = SessionStore()
    session.create()
    session_chat_token(session=session)
    return session.session_key


async def test_an_address_may_hold_only_so_many_sockets_open(settings):
    settings.CHAT_CONNECTIONS_PER_IP = 3
    sockets = [chat_socket(_session(), client="203.0.113.9") for _ in range(3)]
    for socket in sockets:
        assert (await socket.connect())[0]

    extra = chat_socket(_session(), client="203.0.113.9")
    await extra.connect()
    assert (await extra.receive_json_from(timeout=5))["code"] == "too_many_connections"
    assert await extra.receive_output(timeout=5) == {"type": "websocket.close", "code": 4429}

    # Another address is not affected, and a closed socket frees its place.
    other = chat_socket(_session(), client="198.51.100.7")
    assert (await other.connect())[0]
    assert await other.receive_nothing(timeout=0.5)
    await sockets[0].disconnect()
    again = chat_socket(_session(), client="203.0.113.9")
    await again.connect()
    assert await again.receive_nothing(timeout=0.5)
