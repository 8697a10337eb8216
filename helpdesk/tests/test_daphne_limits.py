"""The limits daphne itself enforces, against a real daphne started as `make run` starts it:
a WebSocket frame over WEBSOCKET_MAX_MESSAGE_BYTES closes the socket before the app sees
it, and a foreign Origin is refused at the handshake."""

import asyncio
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest
from django.conf import settings

from benchmarks.wsclient import HandshakeRefused, WebSocket
from helpdesk.management.commands.run import daphne_command
from helpdesk.testing import child_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def daphne(django_db_setup, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("daphne")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "daphne.log", "wb")  # noqa: SIM115 - the process outlives this block
    proc = subprocess.Popen(
        daphne_command("127.0.0.1", port, app="helpdesk.asgi:application"),
        cwd=settings.BASE_DIR, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/kb/", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail((tmp_path / "daphne.log").read_text()[-3000:])
            time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


async def test_a_frame_over_the_size_limit_drops_the_connection(daphne, session_key):
    ws = await WebSocket.connect(daphne, "/ws/chat/", f"sessionid={session_key}")
    # A text frame whose header announces one byte over the limit, and the payload's first
    # byte: daphne refuses on the header, before buffering anything.
    size = settings.WEBSOCKET_MAX_MESSAGE_BYTES + 1
    ws.writer.write(bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big") + os.urandom(4) + b"{")
    # autobahn (daphne's WebSocket layer) fails the connection by dropping it, no close frame.
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(ws.recv_json(), timeout=10)
    ws.writer.close()


async def test_a_frame_at_the_size_limit_reaches_the_app(daphne, session_key):
    # The other side of the line drawn above: a frame of exactly the limit gets through.
    ws = await WebSocket.connect(daphne, "/ws/chat/", f"sessionid={session_key}")
    envelope = len(json.dumps({"type": "message", "text": ""}))
    text = "x" * (settings.WEBSOCKET_MAX_MESSAGE_BYTES - envelope)
    await ws.send_json({"type": "message", "text": text})
    assert (await ws.recv_json())["code"] == "message_too_long"
    await ws.close()


async def test_a_long_question_under_the_frame_limit_gets_an_error_and_the_socket_stays(
    daphne, session_key
):
    ws = await WebSocket.connect(daphne, "/ws/chat/", f"sessionid={session_key}")
    text = "x" * (settings.CHAT_MAX_MESSAGE_CHARS + 1)
    await ws.send_json({"type": "message", "text": text})
    assert (await ws.recv_json())["code"] == "message_too_long"

    await ws.send_json({"type": "escalate"})
    assert (await ws.recv_json())["type"] == "ticket"
    await ws.close()


async def test_a_foreign_origin_is_refused_at_the_handshake(daphne, session_key):
    with pytest.raises(HandshakeRefused) as refused:
        await WebSocket.connect(
            daphne, "/ws/chat/", f"sessionid={session_key}", origin="https://evil.example"
        )
    assert refused.value.status == 403
