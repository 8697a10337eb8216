import asyncio
import logging

import pytest

from chat.models import Message
from chat.tests.helpers import answer_text, ask, chat_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_it_streams_tokens_then_sources_then_done(demo_kb, session_key):
    socket = chat_socket(session_key)
    connected, _ = await socket.connect()
    assert connected

    received = await ask(socket, "I forgot my password, how do I get back in?")
    await socket.disconnect()

    types = [m["type"] for m in received]
    assert types.count("token") >= 2
    assert types[-2:] == ["sources", "done"]
    assert set(types[:-2]) == {"token"}
    sources = received[-2]["sources"]
    assert sources[0]["slug"] == "reset-password"
    assert sources[0]["url"].startswith("/kb/reset-password/")
    assert sources[0]["title"]
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.role == Message.Role.ASSISTANT
    assert reply.text == answer_text(received).strip()
    assert reply.sources == sources


async def test_the_second_question_sees_the_first_in_the_prompt(demo_kb, session_key, caplog):
    socket = chat_socket(session_key)
    await socket.connect()
    first = await ask(socket, "How do I turn on two-factor authentication?")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="chat.llm"):
        second = await ask(socket, "And what if I lose my phone?")
    await socket.disconnect()

    [prompt] = [r.args[0] for r in caplog.records if r.msg.startswith("Prompt messages")]
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert prompt[1]["content"] == "How do I turn on two-factor authentication?"
    assert prompt[2]["content"] == answer_text(first).strip()
    assert "And what if I lose my phone?" in prompt[3]["content"]
    reply = await Message.objects.aget(pk=second[-1]["message_id"])
    assert reply.history_turns == 1
    assert await Message.objects.filter(conversation_id=reply.conversation_id).acount() == 4


async def test_it_answers_two_overlapping_questions_in_full(demo_kb, session_key, settings):
    from django.contrib.sessions.backends.cache import SessionStore

    other = SessionStore()
    other["started"] = True
    await asyncio.to_thread(other.create)
    first, second = chat_socket(session_key), chat_socket(other.session_key)
    await first.connect()
    await second.connect()

    # The second question arrives while the first answer is streaming. llama.cpp's
    # server would cut the first stream short unless started with --interrupt_requests False.
    results = await asyncio.gather(
        ask(first, "How do I export my data?"),
        ask(second, "How much does the Team plan cost?"),
    )
    await first.disconnect()
    await second.disconnect()

    for received in results:
        assert received[-1]["type"] == "done"
        assert "fallback" not in [m["type"] for m in received]
        reply = await Message.objects.aget(pk=received[-1]["message_id"])
        assert not reply.interrupted and not reply.fallback
        assert reply.text


async def test_it_refuses_a_second_question_while_answering(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": "How do I invite teammates?"})
    await socket.send_json_to({"type": "message", "text": "And remove them?"})

    received = []
    while not received or received[-1]["type"] != "done":
        received.append(await socket.receive_json_from(timeout=90))
    await socket.disconnect()
    errors = [m for m in received if m["type"] == "error"]
    assert [e["code"] for e in errors] == ["busy"]


async def test_an_answer_goes_on_after_its_socket_drops_and_is_stored_whole(
    demo_kb, session_key, settings
):
    settings.LLM_MAX_TOKENS = 200
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": "Explain every plan and its price."})
    first = await socket.receive_json_from(timeout=60)
    assert first["type"] == "token"
    await socket.disconnect()

    # The answer belongs to the process (chat/relay.py): the next socket resumes it.
    async with asyncio.timeout(90):
        while not await Message.objects.filter(role="assistant").aexists():
            await asyncio.sleep(0.05)
    reply = await Message.objects.aget(role="assistant")
    how = {"interrupted": reply.interrupted, "stopped": reply.stopped, "fallback": reply.fallback}
    assert how == {"interrupted": False, "stopped": False, "fallback": False}, reply.text
    assert reply.text.startswith(first["text"].strip())
