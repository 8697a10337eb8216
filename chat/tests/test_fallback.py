import asyncio

import pytest

from chat.models import Message
from chat.services import FALLBACK_TEXT
from chat.tests.helpers import ask, chat_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_unreachable_llm_gives_a_fallback_with_sources(demo_kb, session_key, dead_llm):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)
    await socket.disconnect()

    assert [m["type"] for m in received] == ["fallback", "done"]
    fallback = received[0]
    assert fallback["reason"] == "llm_unavailable"
    assert fallback["text"] == FALLBACK_TEXT
    assert "Traceback" not in fallback["text"]
    assert fallback["sources"][0]["slug"] == "reset-password"
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.fallback
    assert reply.text == FALLBACK_TEXT


async def test_an_llm_that_never_answers_times_out_into_the_fallback(
    demo_kb, session_key, settings
):
    # A server that accepts the connection and then says nothing at all.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.LLM_FIRST_TOKEN_TIMEOUT = 1.0

    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)
    await socket.disconnect()
    server.close()

    assert [m["type"] for m in received] == ["fallback", "done"]
