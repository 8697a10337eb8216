"""Rate limits on the chat socket: per session, per address, for questions and escalations.

Rates in these tests are per hour, so that a fixed window never ends halfway through one.
"""

import asyncio
import socket as sockets
import time
from copy import deepcopy

import pytest
from django.contrib.sessions.backends.cache import SessionStore
from django_ratelimit.core import _get_window

from chat.models import Message
from chat.tests.helpers import ask, chat_socket
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def new_session() -> str:
    session = SessionStore()
    session["started"] = True
    session.create()
    return session.session_key


@pytest.fixture
async def counting_llm(settings):
    """An LLM address that counts the connections it gets and hangs up on each."""
    connections = []

    def accepted(reader, writer):
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    settings.LLM_BASE_URL = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    yield connections
    server.close()


@pytest.fixture
def unreachable_ratelimit_cache(settings):
    """The rate-limit cache pointed at a port where nothing listens."""
    with sockets.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caches = deepcopy(settings.CACHES)
    caches["ratelimit"]["LOCATION"] = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = caches


async def _send(socket, message: dict) -> list[dict]:
    """Everything the server says up to `done`, a `ticket` or an error."""
    await socket.send_json_to(message)
    received = []
    while not received or received[-1]["type"] not in ("done", "ticket", "error"):
        received.append(await socket.receive_json_from(timeout=60))
    return received


async def test_a_question_over_the_session_limit_is_refused_without_calling_the_llm(
    demo_kb, session_key, settings, counting_llm
):
    settings.RATELIMIT_SESSION = "1/h"
    socket = chat_socket(session_key)
    await socket.connect()

    first = await ask(socket, "How do I reset my password?", timeout=60)
    # The model was asked (and hung up, hence the fallback).
    assert [m["type"] for m in first] == ["fallback", "done"]
    assert len(counting_llm) == 1

    second = await ask(socket, "How do I reset my password?")
    assert [m["type"] for m in second] == ["error"]
    assert second[0]["code"] == "rate_limited"
    assert second[0]["message"]
    assert len(counting_llm) == 1
    # Nothing was stored for it either: the question never reached the answering service.
    assert await Message.objects.filter(role=Message.Role.USER).acount() == 1


async def test_retry_after_is_the_time_left_in_the_fixed_window(session_key, settings):
    settings.RATELIMIT_SESSION = "1/h"
    socket = chat_socket(session_key)
    await socket.connect()
    await ask(socket, "Anything at all?")
    refused = await ask(socket, "Anything at all?")

    retry_after = refused[0]["retry_after"]
    # The window's last second still counts: the next one starts a second after it.
    expected = _get_window(session_key, 3600) + 1 - int(time.time())
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= 3600
    assert abs(retry_after - expected) <= 1


async def test_the_socket_answers_again_once_the_window_has_passed(session_key, settings):
    settings.RATELIMIT_SESSION = "1/2s"
    socket = chat_socket(session_key)
    await socket.connect()
    await ask(socket, "Anything at all?")
    refused = await ask(socket, "Anything at all?")
    if refused[-1]["type"] != "error":  # the first question ended its window itself
        refused = await ask(socket, "Anything at all?")
    assert refused[-1]["code"] == "rate_limited"
    assert refused[-1]["retry_after"] <= 2

    await asyncio.sleep(refused[-1]["retry_after"])
    again = await ask(socket, "Anything at all?")
    assert again[-1]["type"] == "done"


async def test_sessions_from_one_address_share_the_address_limit(settings):
    settings.RATELIMIT_SESSION = "100/h"
    settings.RATELIMIT_IP = "2/h"
    office_a = chat_socket(new_session(), client="203.0.113.7")
    office_b = chat_socket(new_session(), client="203.0.113.7")
    elsewhere = chat_socket(new_session(), client="198.51.100.20")
    for socket in (office_a, office_b, elsewhere):
        await socket.connect()

    assert (await ask(office_a, "First?"))[-1]["type"] == "done"
    assert (await ask(office_b, "Second?"))[-1]["type"] == "done"
    third = await ask(office_a, "Third?")
    assert third[-1]["code"] == "rate_limited"
    # Another address has its own count.
    assert (await ask(elsewhere, "Mine?"))[-1]["type"] == "done"


async def test_refused_frames_do_not_use_up_the_limit(session_key, settings):
    settings.RATELIMIT_SESSION = "1/h"
    socket = chat_socket(session_key)
    await socket.connect()
    for bad in ({"type": "message", "text": " "}, {"type": "message", "text": "x" * 9999}):
        assert (await _send(socket, bad))[-1]["type"] == "error"

    assert (await ask(socket, "Now a real question?"))[-1]["type"] == "done"


async def test_escalations_from_one_session_merge_and_are_limited(session_key, settings):
    settings.RATELIMIT_ESCALATE = "2/h"
    socket = chat_socket(session_key)
    await socket.connect()

    first = await _send(socket, {"type": "escalate"})
    second = await _send(socket, {"type": "escalate", "email": "pat@example.com"})
    third = await _send(socket, {"type": "escalate"})

    assert first[-1]["type"] == second[-1]["type"] == "ticket"
    assert first[-1]["number"] == second[-1]["number"]
    assert third[-1]["code"] == "rate_limited"
    assert third[-1]["retry_after"] > 0
    ticket = await Ticket.objects.aget()
    assert ticket.email == "pat@example.com"


async def test_one_address_cannot_flood_the_ticket_queue_with_new_sessions(settings):
    settings.RATELIMIT_ESCALATE_IP = "3/h"
    replies = []
    for _ in range(5):
        socket = chat_socket(new_session(), client="203.0.113.9")
        await socket.connect()
        replies.append((await _send(socket, {"type": "escalate"}))[-1])
        await socket.disconnect()

    assert [r["type"] for r in replies] == ["ticket"] * 3 + ["error"] * 2
    assert {r.get("code") for r in replies[3:]} == {"rate_limited"}
    assert await Ticket.objects.acount() == 3


async def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(settings):
    settings.RATELIMIT_IP = "1/h"
    settings.TRUSTED_PROXY_COUNT = 1

    def via_proxy(forwarded: str):
        # Every socket comes from the proxy's address; the proxy appended the client's.
        headers = [(b"x-forwarded-for", forwarded.encode())]
        return chat_socket(new_session(), client="10.0.0.2", headers=headers)

    alice, bob = via_proxy("203.0.113.1"), via_proxy("203.0.113.2")
    # Alice again, with an address of her choosing in front of what the proxy appended.
    alice_forging = via_proxy("198.51.100.99, 203.0.113.1")
    for socket in (alice, bob, alice_forging):
        await socket.connect()

    assert (await ask(alice, "Question?"))[-1]["type"] == "done"
    assert (await ask(bob, "Question?"))[-1]["type"] == "done"
    assert (await ask(alice_forging, "Question?"))[-1]["code"] == "rate_limited"


async def test_an_unreachable_rate_limit_cache_lets_questions_through_and_warns(
    session_key, settings, unreachable_ratelimit_cache, caplog
):
    # Fail open (RATELIMIT_FAIL_OPEN, the default): a Redis blip must not lock every
    # customer out. The guards that need no Redis still hold.
    settings.RATELIMIT_SESSION = "1/h"
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    socket = chat_socket(session_key)
    await socket.connect()

    for _ in range(3):
        assert (await ask(socket, "Is anybody there?"))[-1]["type"] == "done"
    too_long = await _send(socket, {"type": "message", "text": "x" * 51})
    assert too_long[-1]["code"] == "message_too_long"
    assert (await _send(socket, {"type": "escalate"}))[-1]["type"] == "ticket"
    assert "Rate-limit cache unreachable, requests are let through" in caplog.text


async def test_failing_closed_refuses_questions_while_the_cache_is_unreachable(
    session_key, settings, unreachable_ratelimit_cache
):
    settings.RATELIMIT_FAIL_OPEN = False
    socket = chat_socket(session_key)
    await socket.connect()

    refused = await ask(socket, "Is anybody there?")
    assert refused[-1]["code"] == "rate_limited"
    assert refused[-1]["retry_after"] >= 1
    assert not await Message.objects.aexists()
