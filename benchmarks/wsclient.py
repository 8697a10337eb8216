"""A minimal RFC 6455 client on asyncio streams, for the benchmarks and the tests that talk
to a real daphne (the venv has no websockets/aiohttp, and this is all they need), and what
the benchmarks share: a fresh session, starting and stopping daphne."""

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class HandshakeRefused(ConnectionError):
    def __init__(self, head: bytes):
        self.status = int(head.split(b" ", 2)[1])
        super().__init__(f"WebSocket handshake refused: {head.decode(errors='replace')}")


class ConnectionClosed(ConnectionError):
    def __init__(self, code: int | None, reason: bytes):
        self.code = code
        super().__init__(f"socket closed by server: {code} {reason!r}")


class WebSocket:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(
        cls, port: int, path: str, cookie: str, origin: str | None = None
    ) -> "WebSocket":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        # The Origin must be the app's own: it refuses sockets opened from other sites.
        origin = origin or f"http://127.0.0.1:{port}"
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise HandshakeRefused(head)
        return cls(reader, writer)

    async def send(self, opcode: int, payload: bytes) -> None:
        # Client frames must be masked; FIN is always set (we never fragment).
        mask, n = os.urandom(4), len(payload)
        if n < 126:
            length = bytes([0x80 | n])
        elif n < 1 << 16:
            length = bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            length = bytes([0x80 | 127]) + n.to_bytes(8, "big")
        key = (mask * (n // 4 + 1))[:n]
        body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        self.writer.write(bytes([0x80 | opcode]) + length + mask + body)
        await self.writer.drain()

    async def send_json(self, message: dict) -> None:
        await self.send(0x1, json.dumps(message).encode())

    async def recv_json(self) -> dict:
        message = b""
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n >= 126:
                n = int.from_bytes(await self.reader.readexactly(2 if n == 126 else 8), "big")
            payload = await self.reader.readexactly(n)  # server frames are unmasked
            opcode = b0 & 0x0F
            if opcode == 0x9:  # ping: answer it, keep reading
                await self.send(0xA, payload)
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                raise ConnectionClosed(code, payload[2:])
            elif opcode in (0x0, 0x1):  # text, possibly fragmented
                message += payload
                if b0 & 0x80:
                    return json.loads(message)

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            await self.send(0x8, (1000).to_bytes(2, "big"))
        self.writer.close()


def new_session(port: int) -> str:
    """GET / for a fresh sessionid, so the app answers with an empty history."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as resp:
        cookies = SimpleCookie()
        for header in resp.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
    return f"sessionid={cookies['sessionid'].value}"


def start_daphne(port: int) -> subprocess.Popen:
    # Imported here: the client above is used by tests that need no Django set-up.
    from helpdesk import devstack
    from helpdesk.management.commands.run import daphne_command

    log = devstack.VAR_DIR / "bench-daphne.log"
    with open(log, "ab") as fh:  # the child keeps its own copy of the handle
        proc = subprocess.Popen(
            daphne_command("127.0.0.1", port), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 180  # daphne loads the embedding model before serving
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            new_session(port)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"daphne did not start serving GET /; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_synthetic(
    port: int, *, ttft_ms: float, tokens_per_second: float, max_tokens: int, model: str,
    log: Path,
) -> subprocess.Popen:  # fmt: skip
    """benchmarks/synthetic_llm.py on `port`, once it answers; its output goes to `log`."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "synthetic_llm.py"), "--port", str(port),
           "--ttft-ms", str(ttft_ms), "--tokens-per-second", str(tokens_per_second),
           "--max-tokens", str(max_tokens), "--model", model]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the synthetic LLM did not start; see {log}")
