"""Several LLM servers: a dead one is skipped for the next, before the first token."""

import os
import subprocess
import sys

import pytest

from chat import llm
from chat.tests.helpers import ask, chat_socket
from helpdesk.testing import free_port

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "I forgot my password, how do I get back in?"


@pytest.fixture
def live_url():
    # The suite's shared server, as the environment names it, whatever a fixture such as
    # own_llm has set LLM_BASE_URL to since.
    return os.environ["LLM_BASE_URL"].split(",")[0].strip()


async def test_a_dead_first_server_is_skipped_for_the_next(
    demo_kb, session_key, settings, live_url
):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings.LLM_BASE_URL = f"{dead}, {live_url}"
    socket = chat_socket(session_key)
    await socket.connect()

    received = await ask(socket, QUESTION)
    await socket.disconnect()

    assert "token" in [m["type"] for m in received]
    assert received[-1]["type"] == "done"
    assert llm.breakers[dead].failures == 1
    assert llm.breakers[live_url].state == "closed"


async def test_a_server_with_an_open_breaker_is_not_tried(demo_kb, session_key, settings, live_url):
    settings.LLM_BREAKER_FAILURES = 1
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings.LLM_BASE_URL = f"{dead},{live_url}"
    socket = chat_socket(session_key)
    await socket.connect()
    await ask(socket, QUESTION)
    assert llm.breakers[dead].state == "open"

    received = await ask(socket, "How do I turn on two-factor authentication?")
    await socket.disconnect()

    assert "token" in [m["type"] for m in received]
    assert llm.breakers[dead].failures == 1  # skipped, not tried again


async def test_every_server_down_gives_the_fallback(demo_kb, session_key, settings):
    first, second = (f"http://127.0.0.1:{free_port()}/v1" for _ in range(2))
    settings.LLM_BASE_URL = f"{first},{second}"
    socket = chat_socket(session_key)
    await socket.connect()

    received = await ask(socket, QUESTION)
    await socket.disconnect()

    assert [m["type"] for m in received] == ["fallback", "done"]
    assert llm.breakers[first].failures == llm.breakers[second].failures == 1


async def test_a_server_dying_mid_answer_is_not_replaced_by_the_next(
    demo_kb, session_key, settings, own_llm, live_url
):
    """Another server would start the answer again: the customer gets the partial answer
    and the fallback, as with one server."""
    settings.LLM_MAX_TOKENS = 200
    settings.LLM_BASE_URL = f"{own_llm.url},{live_url}"
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": QUESTION})
    assert (await socket.receive_json_from(timeout=90))["type"] == "token"

    own_llm.kill()
    received = []
    while not received or received[-1]["type"] != "done":
        received.append(await socket.receive_json_from(timeout=60))
    await socket.disconnect()

    assert received[-2]["type"] == "fallback"
    assert live_url not in llm.breakers  # never asked


def test_settings_reject_a_list_with_something_other_than_urls():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "LLM_BASE_URL": "http://a:8000/v1,vllm-2:8000",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "LLM_BASE_URL holds 'vllm-2:8000'" in result.stderr
