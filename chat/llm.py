"""The one client for the LLM server: vLLM in production, llama.cpp's server locally.

Both speak the OpenAI chat API, so there is one code path (`AsyncOpenAI`). Any failure of
the server, from a refused connection to a stream that stops mid-answer, surfaces as
`LLMUnavailable`, so the caller has exactly one thing to fall back on.

A circuit breaker per server stops a dead one from costing every customer a connection
attempt or a timeout: after LLM_BREAKER_FAILURES failures in a row, requests fail at once
for LLM_BREAKER_COOLDOWN seconds, then one request is let through to try the server again.
"""

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator

import openai
from django.conf import settings

from helpdesk import devstack

# httpx clients are bound to the event loop they first ran on; keep one per loop.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI]" = (
    weakref.WeakKeyDictionary()
)


logger = logging.getLogger(__name__)


class LLMUnavailable(Exception):
    """The model could not be reached, timed out, or broke off the stream."""


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


# One per base URL: several servers (or a moved embedded one) do not share a verdict.
breakers: dict[str, CircuitBreaker] = {}


def breaker() -> CircuitBreaker:
    return breakers.setdefault(base_url(), CircuitBreaker())


_embedded_url: str | None = None


def base_url() -> str:
    # Unset means the embedded llama.cpp server; make run and the tests start it up front.
    # Its address is looked up once, and again only after a failure (it may have moved).
    global _embedded_url
    if settings.LLM_BASE_URL:
        return settings.LLM_BASE_URL
    if _embedded_url is None:
        _embedded_url = devstack.llm_base_url()
    return _embedded_url


def _client() -> openai.AsyncOpenAI:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or str(client.base_url).rstrip("/") != base_url().rstrip("/"):
        client = openai.AsyncOpenAI(
            base_url=base_url(),
            api_key=settings.LLM_API_KEY,
            timeout=openai.Timeout(
                settings.LLM_FIRST_TOKEN_TIMEOUT, connect=settings.LLM_CONNECT_TIMEOUT
            ),
            # A retry would double the customer's wait; the caller falls back instead.
            max_retries=0,
        )
        _clients[loop] = client
    return client


async def stream_chat(messages: list[dict[str, str]]) -> AsyncIterator[str]:
    """Yield the answer's text deltas as the server produces them."""
    # Off by default (customers' words); LOG_LEVEL=DEBUG shows exactly what the model saw.
    logger.debug("Prompt messages: %s", messages)
    circuit = breaker()
    if not circuit.allow():
        raise LLMUnavailable("circuit open: the LLM server failed recently")
    stream, answered = None, False
    try:
        async with asyncio.timeout(settings.LLM_FIRST_TOKEN_TIMEOUT):
            stream = await _client().chat.completions.create(
                model=settings.LLM_MODEL,
                messages=messages,
                max_tokens=settings.LLM_MAX_TOKENS,
                temperature=settings.LLM_TEMPERATURE,
                stream=True,
            )
        iterator = aiter(stream)
        timeout = settings.LLM_FIRST_TOKEN_TIMEOUT
        while True:
            try:
                async with asyncio.timeout(timeout):
                    chunk = await anext(iterator)
            except StopAsyncIteration:
                chunk = None
            if not answered:
                # The server replies (even with an empty answer): what the breaker waits for.
                answered = True
                circuit.succeeded()
            if chunk is None:
                return
            timeout = settings.LLM_TOKEN_TIMEOUT
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content
    except (openai.OpenAIError, TimeoutError, OSError) as exc:
        global _embedded_url
        _embedded_url = None
        circuit.failed()
        raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if not answered:
            circuit.abandoned()
        # Closing the response tells the server to stop generating tokens nobody reads.
        if stream is not None:
            await stream.close()


async def health(*, timeout: float) -> bool:
    """Does the server answer GET /v1/models within `timeout` seconds? Ignores the breaker."""
    try:
        async with asyncio.timeout(timeout):
            await _client().models.list()
        return True
    except (openai.OpenAIError, TimeoutError, OSError):
        return False
