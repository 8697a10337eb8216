"""SYNTHETIC LLM for benchmarks only — not a model.

An OpenAI-compatible HTTP server that streams made-up words at a fixed rate: the first
token after `--ttft-ms`, then `--tokens-per-second` per stream, `--max-tokens` in all. It
reads nothing of the prompt. It exists so that benchmarks/load.py can measure what one app
process sustains without the 2-core CPU LLM being the bottleneck: with a fixed time to first
token, everything above it is the app's own overhead.

The product and its tests never import or start it; it is not a stand-in for the model.

Serves, on plain asyncio streams (no dependencies):
- `POST /v1/chat/completions`: with `"stream": true`, Server-Sent Events in the OpenAI
  chunk format, ending with `finish_reason` and `data: [DONE]`; without, one JSON reply;
- `GET /v1/models`: the one model, named whatever the client asks for (`--model`);
- `GET /stats`: requests, peak concurrent streams and how late the server itself sent
  first tokens (on a busy CPU it can fall behind its schedule); `?reset=1` starts afresh.

    .venv/bin/python benchmarks/synthetic_llm.py --port 8100 [--ttft-ms 20]
        [--tokens-per-second 50] [--max-tokens 64]
"""

import argparse
import asyncio
import itertools
import json
import statistics
import time
import uuid

BANNER = "SYNTHETIC LLM for benchmarks only — not a model"
# Words cycled through as the "answer"; one word is one token and one SSE chunk.
WORDS = (
    "Open Settings, choose Billing, then press Update to change the card on file. "
    "The change applies to the next invoice; past invoices stay as they were."
).split()


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = self.streams_done = self.cancelled = 0
        self.active = self.peak = 0
        self.first_token_late_ms: list[float] = []

    def as_dict(self) -> dict:
        late = sorted(self.first_token_late_ms)
        p95 = statistics.quantiles(late, n=100, method="inclusive")[94] if len(late) > 1 else 0
        return {
            "synthetic": True,
            "requests": self.requests,
            "streams_done": self.streams_done,
            "cancelled": self.cancelled,
            "active": self.active,
            "peak_concurrent_streams": self.peak,
            "first_token_late_ms_p50": statistics.median(late) if late else 0,
            "first_token_late_ms_p95": p95,
            "first_token_late_ms_max": late[-1] if late else 0,
        }


class SyntheticLLM:
    def __init__(self, *, ttft: float, rate: float, max_tokens: int, model: str) -> None:
        self.ttft, self.rate, self.max_tokens, self.model = ttft, rate, max_tokens, model
        self.stats = Stats()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # HTTP/1.1 keep-alive: httpx (inside openai) reuses its connections.
        try:
            while request := await read_request(reader):
                method, path, body = request
                if not await self.route(writer, method, path, body):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away, often on purpose (a stream closed early)
        finally:
            writer.close()

    async def route(self, writer, method: str, path: str, body: bytes) -> bool:
        """Answer one request; False when the connection must close afterwards."""
        if method == "POST" and path == "/v1/chat/completions":
            return await self.completions(writer, body)
        if method == "GET" and path == "/v1/models":
            models = {"object": "list", "data": [{"id": self.model, "object": "model",
                      "owned_by": "synthetic-benchmark"}]}  # fmt: skip
            await send_json(writer, 200, models)
        elif method == "GET" and path.startswith("/stats"):
            await send_json(writer, 200, self.stats.as_dict())
            if "reset=1" in path:
                self.stats.reset()
        else:
            await send_json(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        return True

    async def completions(self, writer, body: bytes) -> bool:
        start = time.perf_counter()
        self.stats.requests += 1
        try:
            request = json.loads(body)
        except ValueError:
            await send_json(writer, 400, {"error": {"message": "body is not JSON"}})
            return True
        wanted = request.get("max_tokens") or self.max_tokens
        count = min(int(wanted), self.max_tokens)
        # A cap below the server's own answer length cuts it short, as a real server does.
        finish = "length" if count < self.max_tokens else "stop"
        model = request.get("model") or self.model
        if not request.get("stream"):
            await asyncio.sleep(self.ttft + (count - 1) / self.rate)
            await send_json(writer, 200, full_reply(model, " ".join(words(count)), finish))
            return True
        return await self.stream(writer, start, model, count, finish)

    async def stream(self, writer, start: float, model: str, count: int, finish: str) -> bool:
        stats = self.stats
        stats.active += 1
        stats.peak = max(stats.peak, stats.active)
        ident = f"chatcmpl-synthetic-{uuid.uuid4().hex[:12]}"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            await send_event(writer, chunk(ident, model, {"role": "assistant", "content": ""}))
            for i, word in enumerate(words(count)):
                # An absolute schedule: a late token does not push back the ones after it.
                due = start + self.ttft + i / self.rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if i == 0:
                    stats.first_token_late_ms.append((time.perf_counter() - due) * 1000)
                await send_event(writer, chunk(ident, model, {"content": f" {word}"}))
            await send_event(writer, chunk(ident, model, {}, finish))
            await send_event(writer, "[DONE]")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            stats.streams_done += 1
            return True
        except ConnectionError:
            stats.cancelled += 1  # the client closed the stream before the end
            return False
        finally:
            stats.active -= 1


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed an idle keep-alive connection
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return method, path, body


def words(count: int) -> list[str]:
    return list(itertools.islice(itertools.cycle(WORDS), count))


def chunk(ident: str, model: str, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def full_reply(model: str, text: str, finish: str) -> dict:
    return {
        "id": f"chatcmpl-synthetic-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
    }


async def send_event(writer: asyncio.StreamWriter, data: dict | str) -> None:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    event = f"data: {payload}\n\n".encode()
    writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")  # one HTTP chunk
    await writer.drain()


async def send_json(writer: asyncio.StreamWriter, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    await writer.drain()


async def serve(args: argparse.Namespace) -> None:
    llm = SyntheticLLM(
        ttft=args.ttft_ms / 1000,
        rate=args.tokens_per_second,
        max_tokens=args.max_tokens,
        model=args.model,
    )
    # A deep backlog: a load test opens hundreds of connections within a second.
    server = await asyncio.start_server(llm.handle, args.host, args.port, backlog=1024)
    print(
        f"{BANNER}\nlistening on http://{args.host}:{args.port}/v1  ttft {args.ttft_ms:g} ms, "
        f"{args.tokens_per_second:g} tokens/s per stream, {args.max_tokens} tokens per answer",
        flush=True,
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=BANNER)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="fixed time to first token")
    parser.add_argument("--tokens-per-second", type=float, default=50.0, help="per stream")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per answer")
    parser.add_argument("--model", default="synthetic", help="the name /v1/models lists")
    args = parser.parse_args()
    if args.tokens_per_second <= 0 or args.max_tokens < 1:
        parser.error("--tokens-per-second and --max-tokens must be positive")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
