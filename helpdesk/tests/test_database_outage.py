"""Postgres down: the page says so with a 503, no request hangs, and the socket says so.

Each check runs in a child process whose DATABASE_URL points at a closed port or at a
peer that accepts and never answers, so the test database of this run is never touched.
"""

import json
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

from chat.middleware import CLOSE_TRY_AGAIN_LATER
from core.degraded import DEGRADED_MESSAGE
from helpdesk.testing import child_env, free_port

# Run in the child: the page through both Django handlers, the socket, and /healthz.
CHILD = """
import asyncio, json, time
import django
django.setup()
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.cache import SessionStore
from django.test import AsyncClient, Client
from helpdesk.asgi import application

def timed(get):
    start = time.perf_counter()
    response = get()
    return {"status": response.status_code, "body": response.content.decode(),
            "seconds": time.perf_counter() - start}

async def chat():
    session = SessionStore()
    session["started"] = True
    session.create()
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1"),
        (b"cookie", f"sessionid={session.session_key}".encode())])
    start = time.perf_counter()
    connected, _ = await socket.connect(timeout=30)
    frame = await socket.receive_json_from(timeout=30)
    closed = await socket.receive_output(timeout=30)
    return {"connected": connected, "frame": frame, "closed": closed,
            "seconds": time.perf_counter() - start}

async def page_async():
    return await AsyncClient(raise_request_exception=False).get("/")

result = {
    "page": timed(lambda: Client(raise_request_exception=False).get("/")),
    "page_async": timed(lambda: asyncio.run(page_async())),
    "healthz": timed(lambda: Client().get("/healthz")),
    "socket": asyncio.run(chat()),
}
print("RESULT " + json.dumps(result))
"""


def run_child(database_url: str) -> dict:
    env = child_env(
        DATABASE_URL=database_url,
        DB_CONNECT_TIMEOUT="2",
        HEALTHZ_TIMEOUT="5",
        ALLOWED_HOSTS="testserver,127.0.0.1",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    return json.loads(lines[0].removeprefix("RESULT "))


def assert_degraded(result: dict, within: float) -> None:
    for name in ("page", "page_async"):
        page = result[name]
        assert page["status"] == 503, name
        assert "degraded" in page["body"]
        assert "Traceback" not in page["body"] and "OperationalError" not in page["body"]
        assert page["seconds"] < within, name

    healthz = json.loads(result["healthz"]["body"])
    assert result["healthz"]["status"] == 503
    assert healthz["status"] == "down"
    assert not healthz["checks"]["database"]["ok"]
    assert healthz["checks"]["redis"]["ok"]

    chat = result["socket"]
    assert chat["connected"]
    assert chat["frame"] == {
        "type": "error",
        "code": "service_degraded",
        "message": DEGRADED_MESSAGE,
    }
    assert chat["closed"] == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}
    assert chat["seconds"] < within


def test_a_refused_database_gives_the_degraded_page_at_once():
    result = run_child(f"postgres://helpdesk:x@127.0.0.1:{free_port()}/helpdesk")
    assert_degraded(result, within=3)


def test_a_database_that_never_answers_times_out_into_the_degraded_page():
    # A real peer: the kernel completes the handshake, then nobody ever replies.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        start = time.perf_counter()
        result = run_child(f"postgres://helpdesk:x@127.0.0.1:{port}/helpdesk")
        total = time.perf_counter() - start

    # DB_CONNECT_TIMEOUT=2: every request ends a little after two seconds.
    assert_degraded(result, within=2 + 3)
    assert result["page"]["seconds"] >= 1.5
    assert total < 60


@pytest.mark.django_db
def test_the_page_connects_to_the_database_with_a_timeout():
    from django.db import connection

    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == 5
