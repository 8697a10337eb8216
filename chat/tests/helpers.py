import asyncio
import json
import re
from urllib.parse import urlsplit

from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.cache import SessionStore

from chat.models import SESSION_TOKEN, token_hash

TERMINAL = {"done"}
# Every socket a test opened; the `_hang_up` fixture closes them all after the test.
OPEN: list[WebsocketCommunicator] = []


def chat_socket(
    session_key: str | None,
    origin: bytes | None = b"http://127.0.0.1",
    client: str = "127.0.0.1",
    headers: list[tuple[bytes, bytes]] = (),
):
    from helpdesk.asgi import application

    headers = [(b"host", b"127.0.0.1"), *headers]
    if origin is not None:
        headers.append((b"origin", origin))
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    # The peer address daphne would put in the scope (the communicator leaves it out). The
    # application starts at connect(), so it reads this scope.
    socket.scope["client"] = [client, 50000]
    OPEN.append(socket)
    return socket


async def hang_up_all() -> None:
    """Disconnect what a test left open. A consumer whose client never hung up is left to
    the event loop's teardown, where cancelling its channel-layer read can stall."""
    from chat import relay

    while OPEN:
        socket = OPEN.pop()
        if not socket.future.done():
            try:
                await socket.disconnect(timeout=5)
            except Exception:
                socket.future.cancel()
    # Answers belong to the process and outlive their sockets (chat/relay.py): end them
    # with the test, not in the next one's event loop.
    await relay.cancel_all()


async def receive_until_done(socket, timeout: float = 90, seq: bool = False) -> list[dict]:
    """Every message up to and including `done` (or an error). Without their `seq` unless
    asked: the stream's own tests (test_resume.py) check it."""
    received = []
    async with asyncio.timeout(timeout):
        while True:
            message = await socket.receive_json_from(timeout=timeout)
            if not seq:
                message.pop("seq", None)
            received.append(message)
            if message["type"] in TERMINAL or message["type"] == "error":
                return received


async def ask(socket, text: str, timeout: float = 90) -> list[dict]:
    await socket.send_json_to({"type": "message", "text": text})
    return await receive_until_done(socket, timeout)


def answer_text(messages: list[dict]) -> str:
    return "".join(m["text"] for m in messages if m["type"] == "token")


async def delivered_soon(message_id: int, timeout: float = 5.0) -> bool:
    """Is the agent message marked delivered within `timeout`? The socket marks it after
    sending it, on the chat's database threads, so a test can read it a moment early."""
    from chat.models import Message

    deadline = asyncio.get_running_loop().time() + timeout
    while not (await Message.objects.aget(pk=message_id)).delivered:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def token_of(session_key: str) -> str:
    """The chat token the support page put in this session (conftest's `session_key`)."""
    return SessionStore(session_key=session_key)[SESSION_TOKEN]


def key_of(session_key: str) -> str:
    """What the session's conversation, history and group are found by: its token's hash."""
    return token_hash(token_of(session_key))


async def read_llm_request(reader) -> dict:
    """The JSON body of one request to a local LLM peer (a test's real HTTP server)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    return json.loads(await reader.readexactly(int(length.group(1))))


def http_chunk(text: str) -> bytes:
    """`text` as one chunk of a chunked HTTP body."""
    data = text.encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class SlowLLM:
    """An OpenAI-compatible peer that streams `words` words, one every `every` seconds, and
    counts the requests and the words it wrote: once the client hangs up, the count stops
    growing."""

    def __init__(self, words: int = 400, every: float = 0.05):
        self.words, self.every = words, every
        self.requests = 0
        self.written = 0
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> "SlowLLM":
        self.server = await asyncio.start_server(self.answer, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def answer(self, reader, writer) -> None:
        await read_llm_request(reader)
        self.requests += 1
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for n in range(self.words):
            choice = {"index": 0, "delta": {"content": f"word{n} "}, "finish_reason": None}
            try:
                writer.write(http_chunk(f"data: {json.dumps({'choices': [choice]})}\n\n"))
                await writer.drain()
            except ConnectionError:
                return
            if reader.at_eof():  # the client closed its end
                return
            self.written += 1
            await asyncio.sleep(self.every)
        done = {"index": 0, "delta": {}, "finish_reason": "stop"}
        try:
            writer.write(http_chunk(f"data: {json.dumps({'choices': [done]})}\n\n"))
            writer.write(http_chunk("data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
            writer.close()
        except ConnectionError:
            return


class RecordingLLM:
    """A real HTTP hop in front of an LLM server (the test LLM) that keeps every request's
    JSON body, so a test reads the prompt actually sent; the answer streams back untouched."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.requests: list[dict] = []
        self.server: asyncio.Server | None = None
        self.url = ""
        self.relays: dict[asyncio.Task, asyncio.StreamWriter] = {}

    async def start(self) -> "RecordingLLM":
        self.server = await asyncio.start_server(self.relay, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}{self.path}"
        return self

    async def close(self) -> None:
        """Stop listening and end the open relays: closed, not cancelled, so each ends as
        if its client had hung up (a cancelled handler is logged as an error by asyncio)."""
        self.server.close()
        for writer in self.relays.values():
            writer.close()
        await asyncio.gather(*self.relays, return_exceptions=True)

    async def relay(self, reader, writer) -> None:
        self.relays[asyncio.current_task()] = writer
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        back = asyncio.ensure_future(_copy(up_reader, writer))
        try:
            while True:  # a kept-alive connection carries one request after another
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                body = await reader.readexactly(int(length.group(1)) if length else 0)
                if body:
                    self.requests.append(json.loads(body))
                up_writer.write(head + body)
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up
        finally:
            back.cancel()
            up_writer.close()
            writer.close()
            self.relays.pop(asyncio.current_task(), None)


async def _copy(reader, writer) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()
