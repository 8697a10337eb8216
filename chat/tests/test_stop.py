"""Stop ends the answer that is streaming: what was generated is kept, marked stopped, and
the LLM stops generating too."""

import asyncio
import json

import pytest

from chat.models import Message
from chat.tests.helpers import chat_socket, http_chunk, read_llm_request, receive_until_done

pytestmark = pytest.mark.django_db(transaction=True)


class SlowLLM:
    """An OpenAI-compatible peer that streams a word every 50 ms, up to 400, and counts
    the words it wrote: once the client hangs up, the count stops growing."""

    def __init__(self):
        self.written = 0
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> "SlowLLM":
        self.server = await asyncio.start_server(self.answer, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def answer(self, reader, writer) -> None:
        await read_llm_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for n in range(400):
            choice = {"index": 0, "delta": {"content": f"word{n} "}, "finish_reason": None}
            try:
                writer.write(http_chunk(f"data: {json.dumps({'choices': [choice]})}\n\n"))
                await writer.drain()
            except ConnectionError:
                return
            if reader.at_eof():  # the client closed its end
                return
            self.written += 1
            await asyncio.sleep(0.05)


@pytest.fixture
async def slow_llm(settings):
    llm = await SlowLLM().start()
    settings.LLM_BASE_URL = llm.url
    settings.LLM_MAX_TOKENS = 400
    yield llm
    llm.server.close()


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
