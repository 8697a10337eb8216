"""Stop ends the answer that is streaming: what was generated is kept, marked stopped, and
the LLM stops generating too."""

import asyncio

import pytest

from chat.models import Message
from chat.tests.helpers import chat_socket, receive_until_done

pytestmark = pytest.mark.django_db(transaction=True)


async def test_stop_keeps_what_was_said_marks_it_stopped_and_the_llm_stops(
    demo_kb, session_key, slow_llm
):
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": "How do I reset my password?"})
    while (await socket.receive_json_from(timeout=60))["type"] != "token":
        pass
    await asyncio.sleep(0.3)  # a few more words

    await socket.send_json_to({"type": "stop"})
    received = await receive_until_done(socket, timeout=10)
    at_stop = slow_llm.written
    await asyncio.sleep(1)  # twenty words' time

    assert [m["type"] for m in received][-2:] == ["stopped", "done"]
    stopped, done = received[-2:]
    assert stopped["message_id"] == done["message_id"] is not None
    reply = await Message.objects.aget(pk=done["message_id"])
    assert reply.stopped and reply.interrupted
    assert reply.text.startswith("word0 word1")
    assert slow_llm.written - at_stop <= 2 and slow_llm.written < 100


async def test_stop_with_no_answer_streaming_does_nothing(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "stop"})
    await socket.send_json_to({"type": "feedback", "message_id": 1, "value": "sideways"})

    # The next frame answers the feedback: the stop sent nothing.
    assert (await socket.receive_json_from(timeout=10))["code"] == "bad_feedback"
