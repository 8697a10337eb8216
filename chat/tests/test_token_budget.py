"""One customer's long conversation must not cost an answer, theirs or anyone else's.

Ten turns of long questions and answers overflow the embedded model's 4,096-token
context; the server then refuses with a 400, which used to count as a server failure: three
in a row opened the breaker, and every customer got the fallback for 30 seconds.
"""

import asyncio
import json
import urllib.request
from contextlib import aclosing
from types import SimpleNamespace

import pytest

from chat import llm
from chat.history import history_append
from chat.models import Message
from chat.prompts import fit_to_budget, system_prompt, tokens_estimate
from chat.tests.helpers import answer_text, ask, chat_socket, key_of
from knowledge.models import Chunk

LONG_QUESTION = (
    "I have been trying to export all of my projects to a spreadsheet for our quarterly "
    "review, but every time I press the export button the download stops halfway. "
) * 12  # about 2,000 characters, the most a question may have
LONG_ANSWER = (
    "Exports of large workspaces are prepared in the background and emailed to you when "
    "they are ready; check the spam folder if nothing arrives within an hour. "
) * 10


def _server_count(text: str) -> int:
    """The embedded model's own token count for `text` (llama-cpp-python's server)."""
    url = llm.base_urls()[0].removesuffix("/v1") + "/extras/tokenize/count"
    request = urllib.request.Request(
        url, data=json.dumps({"input": text}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["count"]


@pytest.mark.django_db
def test_the_estimate_is_never_below_the_models_own_count(demo_kb):
    texts = [system_prompt(), LONG_QUESTION, LONG_ANSWER, "⩶" * 2000, "🙂" * 500, "日本語" * 300]
    texts += list(Chunk.objects.values_list("text", flat=True)[:40])
    for text in texts:
        assert tokens_estimate(text) >= _server_count(text), text[:40]


def _chunk(text: str):
    return SimpleNamespace(text=text, heading="", article=SimpleNamespace(title="T"))


def test_the_oldest_turns_go_first_then_the_context_shrinks_and_the_question_stays():
    turns = [{"user": f"q{n} " + LONG_QUESTION, "assistant": LONG_ANSWER} for n in range(10)]
    chunks = [_chunk("a " * 300), _chunk("b " * 300)]

    history, kept = fit_to_budget(question=LONG_QUESTION, chunks=chunks, history=turns, budget=3000)
    assert 0 < len(history) < 10
    assert history == turns[-len(history) :]  # the most recent ones
    assert [c.text for c in kept] == [c.text for c in chunks]

    history, kept = fit_to_budget(question=LONG_QUESTION, chunks=chunks, history=turns, budget=1200)
    assert history == []
    assert len(kept) == 2 and kept[1].text.endswith(" …") and len(kept[1].text) < 600
    assert chunks[1].text == "b " * 300  # the stored chunk is not touched

    # With no room at all, the question still goes whole (the server may then refuse).
    history, kept = fit_to_budget(question=LONG_QUESTION, chunks=chunks, history=turns, budget=10)
    assert (history, kept) == ([], [])


@pytest.fixture
def patient(settings):
    # A prompt of thousands of tokens takes a while on a busy CPU; the point here is
    # whether the server accepts it, not how fast it reads it.
    settings.LLM_FIRST_TOKEN_TIMEOUT = 180
    return settings


@pytest.mark.django_db(transaction=True)
async def test_a_session_full_of_long_turns_still_gets_a_streamed_answer(
    demo_kb, session_key, patient
):
    # A smaller budget than the embedded server's 4,096 keeps the prompt quicker to read;
    # the ten turns (about 12,000 tokens) would overflow either.
    patient.LLM_CONTEXT_TOKENS = 3000
    for _ in range(10):
        await history_append(key=key_of(session_key), user=LONG_QUESTION, assistant=LONG_ANSWER)
    socket = chat_socket(session_key)
    await socket.connect()

    received = await ask(socket, "And how do I export my data?")

    assert answer_text(received).strip(), received
    assert "fallback" not in [m["type"] for m in received]
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert 0 < reply.history_turns < 10


# vLLM's answer to a prompt longer than --max-model-len, before any streaming. (The
# embedded llama.cpp server answers a too-long stream with an empty 200 instead.)
CONTEXT_TOO_LONG = json.dumps(
    {
        "object": "error",
        "message": "This model's maximum context length is 8192 tokens. However, you "
        "requested 9000 tokens. Please reduce the length of the messages.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
).encode()
ANSWER = b'data: {"choices": [{"delta": {"content": "Hello."}}]}\n\ndata: [DONE]\n\n'


@pytest.fixture
async def vllm_like(settings):
    """An HTTP server that answers as vLLM does: a 400 for a prompt over its context,
    a streamed answer otherwise. LLM_BASE_URL points at it."""

    async def serve(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        if len(body) > 20_000:
            writer.write(_response(b"400 Bad Request", b"application/json", CONTEXT_TOO_LONG))
        else:
            writer.write(_response(b"200 OK", b"text/event-stream", ANSWER))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    settings.LLM_BASE_URL = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    yield settings.LLM_BASE_URL
    server.close()


def _response(status: bytes, kind: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: " + kind
        + b"\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n" + body
    )  # fmt: skip


async def _rejected_request() -> None:
    too_long = [{"role": "user", "content": LONG_QUESTION * 12}]
    with pytest.raises(llm.LLMRejected, match="400"):
        async with aclosing(llm.stream_chat(too_long)) as stream:
            async for _ in stream:
                pass


@pytest.mark.django_db(transaction=True)
async def test_requests_the_server_refuses_do_not_open_the_breaker_for_everyone(
    demo_kb, session_key, vllm_like, settings
):
    settings.LLM_BREAKER_FAILURES = 3
    for _ in range(5):
        await _rejected_request()

    assert llm.breaker(vllm_like).state == "closed"
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?")
    assert answer_text(received) == "Hello."


def test_only_the_servers_own_trouble_counts_as_its_failure():
    def status(code: int):
        response = SimpleNamespace(status_code=code, headers={}, request=None)
        return llm.openai.APIStatusError("x", response=response, body=None)

    assert [llm.server_at_fault(status(c)) for c in (400, 401, 404, 413, 422)] == [False] * 5
    assert [llm.server_at_fault(status(c)) for c in (408, 429, 500, 502, 503)] == [True] * 5
