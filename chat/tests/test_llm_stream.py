"""Reading the LLM's event stream (chat/llm.py, _sse_deltas): every delta in order, the
lines that are not data skipped, and a server that misbehaves mid-stream is LLMUnavailable.

The servers here are real HTTP peers on local sockets that send exactly the bytes a test
gives them, the way a broken vLLM or a proxy in front of it might; our code is not faked.
"""

import asyncio
import gc
import json
import sys
import time

import pytest

from chat import llm
from chat.llm import LLMUnavailable
from chat.tests.helpers import http_chunk, read_llm_request

MESSAGES = [{"role": "user", "content": "How do I reset my password?"}]


def event(payload) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def delta(text: str | None, **extra) -> str:
    """A chunk in the OpenAI format, as vLLM and llama.cpp send it."""
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None, **extra}
    return event({"object": "chat.completion.chunk", "choices": [choice]})


DONE = "data: [DONE]\n\n"


class EventServer:
    """Answers every request with `status` and `pieces`, each piece one HTTP chunk (one
    network write), then ends the body, or cuts the connection when `cut`."""

    def __init__(
        self, pieces: list[str], *, status: int = 200, cut: bool = False, linger: float = 0
    ):
        self.pieces, self.status, self.cut, self.linger = pieces, status, cut, linger
        self.requests: list[dict] = []
        self.url = ""
        self.server: asyncio.Server | None = None

    async def start(self) -> "EventServer":
        self.server = await asyncio.start_server(self.answer, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def answer(self, reader, writer) -> None:
        self.requests.append(await read_llm_request(reader))
        kind = "text/event-stream" if self.status == 200 else "application/json"
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Type: {kind}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for piece in self.pieces:
            writer.write(http_chunk(piece))
            await writer.drain()
        await asyncio.sleep(self.linger)  # a server that holds the body open a while
        if self.cut:
            writer.transport.abort()  # a crash: no end of body, no goodbye
            return
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
async def serve(settings):
    """Start an EventServer; LLM_BASE_URL points at the last one started."""
    started: list[EventServer] = []

    async def start(*pieces: str, **options) -> EventServer:
        server = await EventServer(list(pieces), **options).start()
        started.append(server)
        settings.LLM_BASE_URL = server.url
        return server

    yield start
    for server in started:
        server.close()


async def read_stream() -> tuple[list[str], LLMUnavailable | None]:
    """The deltas stream_chat yielded, and the LLMUnavailable it ended with, if any."""
    received: list[str] = []
    async with asyncio.timeout(30):
        try:
            async for text in llm.stream_chat(MESSAGES):
                received.append(text)
        except LLMUnavailable as exc:
            return received, exc
    return received, None


async def test_every_delta_arrives_in_order(serve):
    server = await serve(delta(""), delta("Open "), delta("Settings"), delta("."), DONE)

    assert await read_stream() == (["Open ", "Settings", "."], None)
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["messages"] == MESSAGES


async def test_an_error_event_mid_stream_is_unavailable_after_the_deltas_before_it(serve):
    server = await serve(
        delta("Open "),
        delta("Settings"),
        event({"error": {"message": "CUDA out of memory", "type": "internal_error"}}),
        delta(" and never this"),
        DONE,
    )

    received, error = await read_stream()

    assert received == ["Open ", "Settings"]  # the caller keeps the partial answer
    assert "server error" in str(error) and "CUDA out of memory" in str(error)
    assert llm.breakers[server.url].failures == 1


async def test_an_error_event_before_the_first_token_fails_over_to_the_next_server(serve, settings):
    failing = await serve(event({"error": {"message": "model is loading"}}), DONE)
    working = await serve(delta("Open "), delta("Settings"), DONE)
    settings.LLM_BASE_URL = f"{failing.url},{working.url}"

    assert await read_stream() == (["Open ", "Settings"], None)
    assert llm.breakers[failing.url].failures == 1
    assert llm.breakers[working.url].state == "closed"


@pytest.mark.parametrize(
    "line",
    ['data: {"choices": [{"delta": {"content": "Sett', "data: not json at all", "data: {}}"],
    ids=["cut-short", "prose", "extra-brace"],
)
async def test_invalid_json_in_a_data_line_is_unavailable(serve, line):
    await serve(delta("Open "), line + "\n\n", delta("ings"), DONE)

    received, error = await read_stream()

    assert received == ["Open "]
    assert "JSONDecodeError" in str(error)


@pytest.mark.parametrize("payload", ["[1, 2]", '"Settings"', "null", "42", "true"])
async def test_a_data_line_that_is_not_a_chunk_object_is_unavailable(serve, payload):
    await serve(delta("Open "), f"data: {payload}\n\n", DONE)

    received, error = await read_stream()

    assert received == ["Open "]
    assert "not a chunk" in str(error)


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
async def test_comments_blank_lines_and_other_fields_are_skipped(serve, newline):
    lines = [
        ": keep-alive, a comment line",
        "",
        "event: ping",
        "id: 7",
        "retry: 1000",
        "",
        'data:{"choices": [{"delta": {"content": "Open "}}]}',  # no space after the colon
        "",
        "event: message",
        'data: {"choices": [{"delta": {"content": "Settings"}}]}',
        "",
        ":",
        "data: [DONE]",
        "",
    ]
    await serve(newline.join(lines) + newline)

    assert await read_stream() == (["Open ", "Settings"], None)


async def test_chunks_without_choices_or_content_yield_nothing(serve):
    await serve(
        delta("", role="assistant"),
        event({"object": "chat.completion.chunk", "choices": []}),
        event({"usage": {"prompt_tokens": 312, "completion_tokens": 2}}),
        event({"choices": [{"index": 0, "delta": {}}]}),
        event({"choices": [{"index": 0, "delta": None}]}),
        delta(None),
        delta("Open "),
        event({"choices": [{"index": 0, "finish_reason": "stop"}]}),
        delta("Settings"),
        event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        DONE,
    )

    assert await read_stream() == (["Open ", "Settings"], None)


async def test_an_answer_of_empty_chunks_only_is_an_empty_answer_not_a_failure(serve):
    server = await serve(delta("", role="assistant"), delta(None), DONE)

    assert await read_stream() == ([], None)
    # The server replied: the breaker counts it as alive.
    assert llm.breakers[server.url].state == "closed"


async def test_nothing_after_done_is_read(serve):
    await serve(delta("Open "), DONE, event({"error": {"message": "too late"}}), delta("x"))

    assert await read_stream() == (["Open "], None)


async def test_a_body_held_open_after_done_does_not_hold_up_the_answer(serve):
    await serve(delta("Open "), DONE, linger=5)

    started = time.monotonic()
    assert await read_stream() == (["Open "], None)
    assert time.monotonic() - started < 2


async def test_a_connection_cut_right_after_done_leaves_the_answer_complete(serve):
    await serve(delta("Open "), delta("Settings"), DONE, cut=True)

    assert await read_stream() == (["Open ", "Settings"], None)


async def test_the_line_reader_is_read_to_its_end_not_left_for_the_event_loop_to_close(serve):
    # An unfinished async generator costs the loop a call_soon_threadsafe and a task when
    # it is collected; a finished one costs nothing.
    left_unfinished = []
    hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(hooks.firstiter, left_unfinished.append)
    try:
        await serve(delta("Open "), delta("Settings"), DONE)
        assert await read_stream() == (["Open ", "Settings"], None)
        gc.collect()
    finally:
        sys.set_asyncgen_hooks(*hooks)
    names = [agen.__qualname__ for agen in left_unfinished]
    assert not [name for name in names if name.startswith("Response.")], names


async def test_an_event_split_across_network_reads_is_read_whole(serve):
    whole = delta("Settings")
    await serve(delta("Open "), whole[:7], whole[7:30], whole[30:], DONE)

    assert await read_stream() == (["Open ", "Settings"], None)


async def test_several_events_in_one_network_read_are_each_read(serve):
    await serve(delta("Open ") + delta("Settings") + delta(".") + DONE)

    assert await read_stream() == (["Open ", "Settings", "."], None)


async def test_a_stream_cut_off_mid_answer_is_unavailable_after_the_deltas_before_it(serve):
    await serve(delta("Open "), delta("Settings"), cut=True)

    received, error = await read_stream()

    assert received == ["Open ", "Settings"]
    assert error is not None


async def test_a_refused_request_is_unavailable_but_not_the_servers_failure(serve):
    body = json.dumps({"error": {"message": "model not found", "code": 404}})
    server = await serve(body, status=404)

    received, error = await read_stream()

    assert received == []
    assert isinstance(error, llm.LLMRejected) and "model not found" in str(error)
    # Only connection errors, timeouts, 408, 429 and 5xx count (chat/tests/test_token_budget.py).
    assert llm.breakers[server.url].failures == 0


async def test_a_server_error_status_counts_against_the_breaker(serve):
    body = json.dumps({"error": {"message": "engine dead", "code": 503}})
    server = await serve(body, status=503)

    received, error = await read_stream()

    assert received == [] and not isinstance(error, llm.LLMRejected)
    assert llm.breakers[server.url].failures == 1


@pytest.mark.parametrize(
    "chunk",
    [
        {"choices": ["Settings"]},
        {"choices": "Settings"},
        {"choices": {"0": {"delta": {"content": "Settings"}}}},
        {"choices": [{"delta": "Settings"}]},
        {"choices": [{"delta": {"content": 42}}]},
    ],
    ids=["choice-not-object", "choices-string", "choices-object", "delta-string", "content-int"],
)
async def test_a_chunk_of_the_wrong_shape_is_unavailable(serve, chunk):
    await serve(delta("Open "), event(chunk), DONE)

    received, error = await read_stream()

    assert received == ["Open "]
    assert error is not None
