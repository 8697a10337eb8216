"""The LLM down, silent or killed mid-answer: each really happens, and each ends in the
fallback (the best matching articles and the escalate button) within a few seconds."""

import asyncio
import time

import pytest
from django.conf import settings

from chat.models import Message
from chat.tests.helpers import answer_text, ask, chat_socket

pytestmark = pytest.mark.django_db(transaction=True)

# "Within a few seconds": far below LLM_TOKEN_TIMEOUT (15 s), the slow way to notice.
FEW_SECONDS = 5.0


async def test_an_unreachable_llm_gives_a_fallback_with_sources(demo_kb, session_key, dead_llm):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)
    await socket.disconnect()

    assert [m["type"] for m in received] == ["fallback", "done"]
    fallback = received[0]
    assert fallback["reason"] == "llm_unavailable"
    assert fallback["text"] == settings.FALLBACK_TEXT
    assert "Traceback" not in fallback["text"]
    assert fallback["sources"][0]["slug"] == "reset-password"
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.fallback
    assert not reply.interrupted
    assert reply.text == settings.FALLBACK_TEXT


async def test_an_llm_that_never_answers_times_out_into_the_fallback(
    demo_kb, session_key, settings
):
    # A real TCP peer that accepts the connection and then says nothing at all.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.LLM_FIRST_TOKEN_TIMEOUT = 1.0

    socket = chat_socket(session_key)
    await socket.connect()
    start = time.perf_counter()
    received = await ask(socket, "How do I reset my password?", timeout=15)
    waited = time.perf_counter() - start
    await socket.disconnect()
    server.close()

    assert [m["type"] for m in received] == ["fallback", "done"]
    assert received[0]["reason"] == "llm_unavailable"
    assert received[0]["sources"][0]["slug"] == "reset-password"
    assert waited < settings.LLM_FIRST_TOKEN_TIMEOUT + FEW_SECONDS
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.fallback
    assert not reply.interrupted


async def test_an_llm_killed_mid_answer_keeps_the_partial_answer_and_falls_back(
    demo_kb, session_key, own_llm, settings
):
    settings.LLM_MAX_TOKENS = 400  # long enough that the kill lands mid-answer
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": "How do I reset my password?"})
    received = [await socket.receive_json_from(timeout=60) for _ in range(3)]
    assert [m["type"] for m in received] == ["token"] * 3

    own_llm.kill()
    killed_at = time.perf_counter()
    while received[-1]["type"] != "fallback":
        received.append(await socket.receive_json_from(timeout=30))
    waited = time.perf_counter() - killed_at
    received.append(await socket.receive_json_from(timeout=5))
    await socket.disconnect()

    print(f"\nLLM killed mid-answer -> fallback on the socket: {waited * 1000:.0f} ms")
    assert waited < FEW_SECONDS
    assert received[-2]["reason"] == "llm_unavailable"
    assert received[-2]["text"] == settings.FALLBACK_TEXT
    assert received[-2]["sources"]
    assert received[-1]["type"] == "done"
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.interrupted
    assert reply.fallback
    partial = answer_text(received).strip()
    assert partial
    assert reply.text == f"{partial}\n\n{settings.FALLBACK_TEXT}"
