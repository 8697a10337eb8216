"""The one client for the LLM server: vLLM in production, llama.cpp's server locally.

Both speak the OpenAI chat API, so there is one code path (`AsyncOpenAI`). Any failure of
the server, from a refused connection to a stream that stops mid-answer, surfaces as
`LLMUnavailable`, so the caller has exactly one thing to fall back on.

A circuit breaker per server stops a dead one from costing every customer a connection
attempt or a timeout: after LLM_BREAKER_FAILURES failures in a row, requests fail at once
for LLM_BREAKER_COOLDOWN seconds, then one request is let through to try the server again.
"""

import asyncio
import itertools
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, aclosing

import aiohttp
import httpx2
import openai
from django.conf import settings

# httpx clients are bound to the event loop they first ran on; keep one per loop and URL.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, openai.AsyncOpenAI]]" = (
    weakref.WeakKeyDictionary()
)


logger = logging.getLogger(__name__)


class LLMUnavailable(Exception):
    """The model could not be reached, timed out, or broke off the stream."""


class LLMRejected(LLMUnavailable):
    """The server is up but refused this request (a 4xx: "context too long", a bad key).

    The customer gets the fallback like any failure, but it says nothing about the
    server: it never counts against the breaker, and no other server is tried, since
    every replica would refuse the same request."""


def server_at_fault(exc: openai.APIStatusError) -> bool:
    # Too busy (429), too slow (408) or broken (5xx): the server's trouble. Any other
    # status is about the request, and one customer must not open the breaker for all.
    return exc.status_code in (408, 429) or exc.status_code >= 500


class CircuitBreaker:
    """closed -> open after N failures in a row -> half-open after the cooldown: one trial.

    Process-local on purpose: each daphne process learns for itself, and a wrong guess
    costs one trial request per cooldown. A trial that is cancelled (the customer left)
    proves nothing either way and frees the slot for the next one.
    """

    def __init__(self) -> None:
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_running = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at < settings.LLM_BREAKER_COOLDOWN:
            return "open"
        return "half-open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self.trial_running:
            return False
        self.trial_running = True
        return True

    def succeeded(self) -> None:
        self.failures, self.opened_at, self.trial_running = 0, None, False

    def failed(self) -> None:
        self.failures += 1
        # A failed trial re-opens at once; a closed breaker waits for N in a row.
        if self.trial_running or self.failures >= settings.LLM_BREAKER_FAILURES:
            self.opened_at = time.monotonic()
            logger.warning(
                "LLM circuit open for %ss after %d failures in a row",
                settings.LLM_BREAKER_COOLDOWN,
                self.failures,
            )
        self.trial_running = False

    def abandoned(self) -> None:
        self.trial_running = False


# One per base URL: several servers do not share a verdict.
breakers: dict[str, CircuitBreaker] = {}


def breaker(url: str | None = None) -> CircuitBreaker:
    return breakers.setdefault(url or base_urls()[0], CircuitBreaker())


def base_urls() -> list[str]:
    """The LLM servers, in order of preference: LLM_BASE_URL holds one URL, or several
    separated by commas (production points it at a load balancer, and may name a second
    one or a spare replica after it; the development tooling, the embedded llama.cpp)."""
    return [url.strip() for url in settings.LLM_BASE_URL.split(",") if url.strip()]


def _client(url: str) -> openai.AsyncOpenAI:
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    client = clients.get(url)
    if client is None:
        client = openai.AsyncOpenAI(
            base_url=url,
            api_key=settings.LLM_API_KEY,
            # The SDK's aiohttp transport (openai[aiohttp]): its C HTTP parser reads a
            # streamed token for about half the CPU of the default httpx2 one, and one
            # process reads thousands of them a second (docs/decisions/0006).
            http_client=openai.DefaultAioHttpClient(),
            timeout=openai.Timeout(
                settings.LLM_FIRST_TOKEN_TIMEOUT, connect=settings.LLM_CONNECT_TIMEOUT
            ),
            # A retry would double the customer's wait; the caller fails over or falls back.
            max_retries=0,
        )
        clients[url] = client
    return client


async def stream_chat(messages: list[dict[str, str]]) -> AsyncIterator[str]:
    """Yield the answer's text deltas as the first server that can produces them.

    A server that fails before its first token is skipped for the next one in
    LLM_BASE_URL's list, as is one whose breaker is open. Once tokens have reached the
    customer there is no failing over (another server would start the answer again):
    a failure then is LLMUnavailable, and the caller keeps the partial answer.
    """
    # Off by default (customers' words); LOG_LEVEL=DEBUG shows exactly what the model saw.
    logger.debug("Prompt messages: %s", messages)
    failures = []
    for url in base_urls():
        yielded = False
        try:
            async with aclosing(_stream_from(url, messages)) as deltas:
                async for delta in deltas:
                    yielded = True
                    yield delta
            return
        except LLMRejected:
            raise
        except LLMUnavailable as exc:
            if yielded:
                raise
            failures.append(f"{url}: {exc}")
    raise LLMUnavailable("; ".join(failures))


def complete(messages: list[dict[str, str]]) -> str:
    """The whole answer at once, for blocking callers with nobody to stream to (an admin
    action drafting an article): stream_chat's deltas joined, with its failover and
    breakers, and LLMUnavailable as there. Runs on an event loop of its own, so the
    clients made for that loop are closed before it ends."""
    return asyncio.run(_complete(messages))


async def _complete(messages: list[dict[str, str]]) -> str:
    try:
        async with aclosing(stream_chat(messages)) as deltas:
            return "".join([delta async for delta in deltas])
    finally:
        for client in _clients.pop(asyncio.get_running_loop(), {}).values():
            await client.close()


async def _stream_from(url: str, messages: list[dict[str, str]]) -> AsyncIterator[str]:
    circuit = breaker(url)
    if not circuit.allow():
        raise LLMUnavailable("circuit open: the server failed recently")
    answered = False
    try:
        async with AsyncExitStack() as stack:
            async with asyncio.timeout(settings.LLM_FIRST_TOKEN_TIMEOUT):
                response = await _open_stream(_client(url), messages)
            # Leaving the stack closes the response, which tells the server to stop
            # generating tokens nobody reads.
            stack.push_async_callback(response.aclose)
            deltas = await stack.enter_async_context(aclosing(_sse_deltas(response)))
            timeout = settings.LLM_FIRST_TOKEN_TIMEOUT
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        delta = await anext(deltas)
                except StopAsyncIteration:
                    delta = None
                if not answered:
                    # The server replies (even with an empty answer): what the breaker
                    # waits for.
                    answered = True
                    circuit.succeeded()
                if delta is None:
                    return
                timeout = settings.LLM_TOKEN_TIMEOUT
                if delta:
                    yield delta
    except openai.APIStatusError as exc:
        if not server_at_fault(exc):
            raise LLMRejected(f"{exc.status_code}: {exc.message}"[:300]) from exc
        circuit.failed()
        raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except (
        openai.OpenAIError,
        httpx2.HTTPError,
        aiohttp.ClientError,  # what the transport does not map to httpx2's errors
        TimeoutError,
        OSError,
        ValueError,
    ) as exc:
        circuit.failed()
        raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if not answered:
            circuit.abandoned()


# What the SDK would make a uuid4 for, per request (a getrandom call, which under load
# waits for the GIL); nobody reads it, as max_retries is 0.
_request_keys = (f"helpdesk-{os.getpid()}-{n}" for n in itertools.count())


async def _open_stream(client: openai.AsyncOpenAI, messages: list[dict[str, str]]):
    """POST /chat/completions and return the raw streaming response, status checked.

    Through the client's documented `post` rather than `chat.completions.create`: create()
    first runs the body through the SDK's TypedDict transform, which for a plain dict
    like this changes nothing and cost a share of a busy event loop (docs/decisions/0006).
    Everything else (base URL, key, timeouts, HTTP errors as openai's) is the SDK's own.
    """
    body = {
        "model": settings.LLM_MODEL,
        "messages": messages,
        "max_tokens": settings.LLM_MAX_TOKENS,
        "temperature": settings.LLM_TEMPERATURE,
        "stream": True,
    }
    return await client.post(
        "/chat/completions",
        cast_to=httpx2.Response,
        body=body,
        options={"idempotency_key": next(_request_keys)},
        stream=True,
        stream_cls=openai.AsyncStream,
    )


async def _sse_deltas(response) -> AsyncIterator[str]:
    """The content deltas of a chat-completion event stream ("" for a chunk without one).

    Read as raw lines and json.loads, not through the SDK's Stream: building its pydantic
    chunk objects cost several times the CPU per token, and at hundreds of streams per
    process that was the largest cost of all (docs/decisions/0006)."""
    lines = response.aiter_lines()
    async for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, "event:" lines
        data = line[5:].strip()
        if data == "[DONE]":
            await _drain(lines)
            return
        yield _delta(json.loads(data), data)


# How long to wait for the end of a stream after its [DONE]; servers end it at once.
DRAIN_SECONDS = 0.05


async def _drain(lines: AsyncIterator[str]) -> None:
    """Read on to the end of the body, which follows [DONE] at once.

    httpx reads lines through four nested async generators. Left unfinished, each is
    closed later by the event loop's finalizer hook: a call_soon_threadsafe (a write to
    its wake-up pipe, which gives up the GIL) and a task, per generator, per answer. Under
    load that was 5% of the loop. A server that holds the stream open past [DONE] costs
    DRAIN_SECONDS, then the response is closed as before."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in lines:
                pass
    except (TimeoutError, httpx2.HTTPError, aiohttp.ClientError, OSError):
        pass  # the answer was complete at [DONE]: nothing after it can spoil it


def _delta(chunk, data: str) -> str:
    if not isinstance(chunk, dict):
        raise ValueError(f"not a chunk: {data[:80]}")
    if "error" in chunk:  # vLLM reports a failure mid-stream as an event
        raise ValueError(f"server error: {chunk['error']}")
    choices = chunk.get("choices")
    if not choices:
        return ""
    try:
        content = (choices[0].get("delta") or {}).get("content") or ""
    except (AttributeError, KeyError, IndexError, TypeError):
        raise ValueError(f"not a chunk: {data[:80]}") from None
    if not isinstance(content, str):
        raise ValueError(f"not a chunk: {data[:80]}")
    return content


def warm_up() -> None:
    """Build a client once at process start and throw it away. The SDK imports its
    resources and anyio its backend lazily, on first use: about a second of CPU that the
    first customers of a new process otherwise wait for, in the event loop."""
    import anyio._backends._asyncio  # noqa: F401

    client = openai.AsyncOpenAI(
        base_url="http://127.0.0.1:9/v1",
        api_key="warm-up",
        http_client=openai.DefaultAioHttpClient(),
    )
    client.models  # noqa: B018 (what health() uses)


def circuit_state() -> str:
    """ "closed" while some server's breaker lets requests through, else the first's."""
    states = [breaker(url).state for url in base_urls()]
    return "closed" if "closed" in states else states[0]


async def health(*, timeout: float) -> bool:
    """Does some server answer GET /v1/models within `timeout` seconds? Ignores the
    breakers: it is how an operator sees that a server is back."""

    async def answers(url: str) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await _client(url).models.list()
            return True
        except (openai.OpenAIError, TimeoutError, OSError):
            return False

    return any(await asyncio.gather(*(answers(url) for url in base_urls())))
