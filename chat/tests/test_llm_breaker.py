"""The circuit breaker in chat/llm.py: a dead LLM is not hammered, and recovery is found."""

import asyncio
import time

import pytest

from chat import llm
from chat.tests.helpers import ask, chat_socket
from helpdesk.testing import LLMServer, free_port

QUESTION = "How do I reset my password?"


@pytest.fixture
def breaker_settings(settings):
    settings.LLM_BREAKER_FAILURES = 3
    settings.LLM_BREAKER_COOLDOWN = 2.0
    return settings


def test_it_opens_after_the_configured_failures_in_a_row(breaker_settings):
    breaker = llm.CircuitBreaker()
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == "open"
    assert not breaker.allow()


def test_a_success_starts_the_count_again(breaker_settings):
    breaker = llm.CircuitBreaker()
    breaker.failed()
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert breaker.state == "closed"


def test_after_the_cooldown_it_lets_exactly_one_trial_through(breaker_settings):
    breaker_settings.LLM_BREAKER_COOLDOWN = 0.2
    breaker = llm.CircuitBreaker()
    for _ in range(3):
        breaker.failed()
    time.sleep(0.25)
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()  # the second caller waits for the trial's verdict


def test_a_failed_trial_opens_it_again_at_once(breaker_settings):
    breaker_settings.LLM_BREAKER_COOLDOWN = 0.2
    breaker = llm.CircuitBreaker()
    for _ in range(3):
        breaker.failed()
    time.sleep(0.25)
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == "open"


def test_an_abandoned_trial_lets_the_next_caller_try(breaker_settings):
    breaker_settings.LLM_BREAKER_COOLDOWN = 0.2
    breaker = llm.CircuitBreaker()
    for _ in range(3):
        breaker.failed()
    time.sleep(0.25)
    assert breaker.allow()
    breaker.abandoned()  # the customer left before the server said anything
    assert breaker.allow()


async def _fallbacks(socket, n: int) -> None:
    for _ in range(n):
        received = await ask(socket, QUESTION, timeout=30)
        assert [m["type"] for m in received] == ["fallback", "done"]


@pytest.mark.django_db(transaction=True)
async def test_an_open_breaker_falls_back_without_calling_the_llm(
    demo_kb, session_key, breaker_settings
):
    port = free_port()
    breaker_settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    socket = chat_socket(session_key)
    await socket.connect()
    await _fallbacks(socket, 3)  # connection refused, three times in a row
    assert llm.breaker().state == "open"

    # Now something listens on the port and counts who calls, hanging up at once.
    calls = 0

    def hang_up(reader, writer):
        nonlocal calls
        calls += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", port)
    await _fallbacks(socket, 2)
    assert calls == 0  # open: the fallback came without a connection attempt

    await asyncio.sleep(breaker_settings.LLM_BREAKER_COOLDOWN)
    await _fallbacks(socket, 1)
    assert calls == 1  # half-open: one trial, and it failed
    await _fallbacks(socket, 1)
    assert calls == 1  # so it is open again, at once
    server.close()
    await server.wait_closed()
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_breaker_closes_on_its_own_when_the_llm_is_back(
    demo_kb, session_key, breaker_settings
):
    server = LLMServer()
    breaker_settings.LLM_BASE_URL = server.url
    breaker_settings.LLM_MAX_TOKENS = 8  # a few tokens prove it; a fresh server is slow
    socket = chat_socket(session_key)
    await socket.connect()
    await _fallbacks(socket, 3)
    opened = time.monotonic()
    assert llm.breaker().state == "open"

    await asyncio.to_thread(server.start)  # a real llama.cpp server on the dead port
    try:
        await asyncio.sleep(
            max(0.0, opened + breaker_settings.LLM_BREAKER_COOLDOWN - time.monotonic())
        )
        received = await ask(socket, QUESTION, timeout=90)
    finally:
        server.kill()
    await socket.disconnect()

    assert "token" in [m["type"] for m in received]
    assert received[-1]["type"] == "done"
    assert llm.breakers[server.url].state == "closed"
