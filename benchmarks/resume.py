"""Resume: the time from a reconnect to the first missed token, across daphne processes.

Each trial is a fresh session that asks a question, reads until it has seen `--tokens` token
frames, then drops its socket with no close frame (as a phone changing networks does).
After `--gap` seconds, during which the answer goes on, it opens a new socket (by default on
a second daphne process, so the frames can come only from Redis), sends
`{"type":"resume","after":<last seq seen>}` and reads the rest of the answer. It times the
new socket's handshake, resume to the first token frame it had not seen, and both together;
and it checks that the frames it keeps follow each other one by one (`seq` + 1) and that
their text is the stored answer's. See benchmarks/README.md.

`--llm synthetic` (the default) points the app at benchmarks/synthetic_llm.py, a SYNTHETIC
server that streams made-up words at a fixed rate, so the LLM's speed does not decide when
the missed tokens exist; `--llm embedded` uses the embedded llama.cpp server.
"""

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line
if VAR_AS_GIVEN:  # absolute, so the children (cwd=ROOT) find the same services
    os.environ["HELPDESK_VAR_DIR"] = str(Path(VAR_AS_GIVEN).resolve())
LOAD_AT_START = os.getloadavg()[0]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--llm", choices=("synthetic", "embedded"), default="synthetic")
parser.add_argument("--processes", type=int, choices=(1, 2), default=2,
                    help="daphne processes (2: each reconnect lands on the other)")  # fmt: skip
parser.add_argument("--trials", type=int, default=30, help="measured trials (at least 20)")
parser.add_argument("--tokens", type=int, default=5, help="token frames read before the drop")
parser.add_argument("--gap", type=float, default=0.2, help="seconds between drop and reconnect")
parser.add_argument("--max-tokens", type=int, default=64, help="answer length (LLM_MAX_TOKENS)")
parser.add_argument("--ttft-ms", type=float, default=20.0, help="synthetic server's fixed TTFT")
parser.add_argument("--tokens-per-second", type=float, default=50.0, help="synthetic, per stream")
parser.add_argument("--timeout", type=float, default=60.0, help="per trial, seconds")
parser.add_argument("--json", action="store_true", help="also print the results as JSON")
args = parser.parse_args()
if args.trials < 20:
    parser.error("--trials must be at least 20: fewer makes p95 meaningless")
# Set before settings load, so this process and the daphne children agree. Every session
# comes from 127.0.0.1: the per-address limits must not count here.
os.environ.update(
    RATELIMIT_SESSION="100000/m",
    RATELIMIT_IP="100000/m",
    RATELIMIT_PAGES="100000/m",
    CHAT_CONNECTIONS_PER_IP="100000",
    LLM_MAX_TOKENS=str(args.max_tokens),
)

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (the LLM too, unless synthetic) for what the environment leaves
# unset, started (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=args.llm != "synthetic")
django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from benchmarks import wsclient  # noqa: E402
from benchmarks.wsclient import WebSocket, free_port, new_session, start_daphne, stop  # noqa: E402
from chat import streams  # noqa: E402
from chat.models import SESSION_TOKEN, Conversation, Message, token_hash  # noqa: E402
from knowledge.selectors import article_count  # noqa: E402


class Lost(Exception):
    """The trial cannot be measured: the answer was not one that streams tokens."""


class Reader:
    """What the page keeps of an answer (static/chat/chat.js): frames with a seq above the
    last one seen, in order; a frame at or below it is dropped as already shown."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.text: list[str] = []
        self.kept = self.dropped = self.gaps = 0
        self.message_id: int | None = None
        self.done = False

    def take(self, frame: dict) -> bool:
        """True when the frame is new to the page."""
        seq = frame.get("seq")
        if seq is None:
            if frame["type"] == "error":  # a refusal of the question or of the resume
                raise Lost(f"error:{frame['code']}")
            return False
        if self.last is not None and seq <= self.last:
            self.dropped += 1
            return False
        if self.last is not None and seq != self.last + 1:
            self.gaps += 1
        self.last, self.kept = seq, self.kept + 1
        if frame["type"] == "token":
            self.text.append(frame["text"])
        elif frame["type"] in ("refusal", "fallback", "error"):
            raise Lost(frame["type"])
        elif frame["type"] == "done":
            self.message_id, self.done = frame["message_id"], True
        return True


async def first_socket(port: int, cookie: str, question: str, page: Reader) -> None:
    """Ask, read `--tokens` token frames, then drop the socket without a close frame."""
    ws = await WebSocket.connect(port, "/ws/chat/", cookie)
    await ws.send_json({"type": "message", "text": question})
    tokens = 0
    while tokens < args.tokens:
        frame = await ws.recv_json()
        if page.take(frame) and frame["type"] == "token":
            tokens += 1
        if page.done:
            raise Lost("short")  # the answer ended before the drop
    ws.writer.transport.abort()  # a TCP reset: no goodbye, as when a network goes away


async def second_socket(port: int, cookie: str, page: Reader) -> dict:
    """Reconnect, resume after the last seq seen, read to `done`; the clock runs from the
    connect."""
    after, before = page.last, page.kept
    start = time.perf_counter()
    ws = await WebSocket.connect(port, "/ws/chat/", cookie)
    open_at = time.perf_counter()
    await ws.send_json({"type": "resume", "after": after})
    sent_at = time.perf_counter()
    first_at = replayed = answering = None
    try:
        while not page.done:
            frame = await ws.recv_json()
            if frame["type"] == "resumed":
                replayed, answering = page.kept - before, frame["answering"]
            elif page.take(frame) and frame["type"] == "token" and first_at is None:
                first_at = time.perf_counter()
    finally:
        await ws.close()
    if first_at is None:
        raise Lost("no missed token")  # the answer's tokens had all been seen
    return {"connect": open_at - start, "resume_to_token": first_at - sent_at,
            "reconnect_to_token": first_at - start, "replayed": replayed,
            "answering_at_resume": answering}  # fmt: skip


async def trial(ports: tuple[int, int], question: str, sessions: list[str]) -> dict:
    cookie = await asyncio.to_thread(new_session, ports[0])
    sessions.append(cookie.split("=", 1)[1])  # deleted at the end, measured or not
    page = Reader()
    async with asyncio.timeout(args.timeout):
        await first_socket(ports[0], cookie, question, page)
        await asyncio.sleep(args.gap)
        row = await second_socket(ports[1], cookie, page)
    stored = await sync_to_async(stored_text)(page.message_id)
    lossless = page.gaps == 0 and "".join(page.text).strip() == stored
    return row | {"stale_dropped": page.dropped, "gaps": page.gaps, "lossless": lossless}


def stored_text(message_id: int) -> str:
    return Message.objects.values_list("text", flat=True).get(pk=message_id)


async def run(ports: list[int], questions: list[str], sessions: list[str]) -> tuple[list, dict]:
    rows, lost = [], {}
    warm, attempts = False, 0
    while len(rows) < args.trials and attempts < args.trials * 2 + 5:
        question = questions[attempts % len(questions)]
        # With two processes the reconnect always lands on the other one, both ways in turn.
        pair = (ports[attempts % 2], ports[(attempts + 1) % 2]) if len(ports) == 2 else (
            ports[0], ports[0])  # fmt: skip
        attempts += 1
        try:
            row = await trial(pair, question, sessions)
        except (Lost, TimeoutError) as exc:
            kind = str(exc) or type(exc).__name__
            lost[kind] = lost.get(kind, 0) + 1
            continue
        if not warm:  # the first trial warms up: first-request costs are not resume's
            warm = True
            continue
        rows.append(row | {"question": question})
        ms = f"{row['reconnect_to_token'] * 1000:6.1f} ms"
        print(f"  {len(rows):2}/{args.trials} {ms}  replayed {row['replayed']}", file=sys.stderr)
    return rows, lost


# --- Reporting ----------------------------------------------------------------------------

MEASURES = {
    "connect": "(a) connect + handshake",
    "resume_to_token": "(b) resume sent -> first missed token",
    "reconnect_to_token": "(c) reconnect -> first missed token",
}


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def stats(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": statistics.median(ms), "p95": percentile(ms, 95),
            "mean": statistics.mean(ms), "max": max(ms)}  # fmt: skip


def setting(llm_url: str, pids: list[int]) -> dict:
    """What the figures were measured with, for the report."""
    if args.llm == "synthetic":
        llm = (f"SYNTHETIC (benchmarks/synthetic_llm.py, not a model) {llm_url}: ttft "
               f"{args.ttft_ms:g} ms, {args.tokens_per_second:g} tokens/s per stream")  # fmt: skip
    else:
        llm = f"embedded llama.cpp {llm_url} model={settings.LLM_MODEL}"
    where = "the other daphne process" if args.processes == 2 else "the same daphne process"
    return {
        "llm": llm,
        "app": f"{args.processes} daphne process(es) (pids {', '.join(map(str, pids))}), "
        f"LLM_MAX_TOKENS {args.max_tokens}, CHAT_TOKEN_FRAME_MS {settings.CHAT_TOKEN_FRAME_MS}",
        "trial": f"drop after {args.tokens} token frames, reconnect {args.gap:g} s later "
        f"to {where}",
        "cpus": os.cpu_count(),
        "load avg (1 min)": f"{LOAD_AT_START:.2f} at start, {os.getloadavg()[0]:.2f} at end",
    }


def report(rows: list[dict], lost: dict, llm_url: str, pids: list[int]) -> dict:
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    command = prefix + shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
    env = setting(llm_url, pids)
    print(f"\nCommand: {command}")
    for key, value in env.items():
        print(f"{key:17} {value}")
    table = {label: stats([r[key] for r in rows]) for key, label in MEASURES.items()}
    print(f"\nResume after a dropped socket ({len(rows)} trials, one run)")
    print(f"{'':40} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'max ms':>8}")
    for name, s in table.items():
        cells = " ".join(f"{s[k]:>8.1f}" for k in ("p50", "p95", "mean", "max"))
        print(f"{name:40} {s['n']:>4} {cells}")
    replayed = [r["replayed"] for r in rows]
    summary = {
        "lossless": sum(r["lossless"] for r in rows),
        "running_at_resume": sum(bool(r["answering_at_resume"]) for r in rows),
        "replayed_p50": statistics.median(replayed),
        "replayed_max": max(replayed),
        "stale_dropped": sum(r["stale_dropped"] for r in rows),
        "not_measured": lost,
    }
    print(f"\nmissed frames received before `resumed`: p50 {summary['replayed_p50']:g}, "
          f"max {summary['replayed_max']}")  # fmt: skip
    print(f"frames sent again and dropped by seq (already seen): {summary['stale_dropped']}")
    print(f"answer still running at resume: {summary['running_at_resume']}/{len(rows)}")
    print(f"lossless: {summary['lossless']}/{len(rows)} (seq +1 each frame, text == stored)")
    print(f"trials not measured: {lost or 'none'}")
    return {"command": command, "environment": env, "ms": table, **summary, "rows": rows}


# --- Setting up ---------------------------------------------------------------------------


def pick_questions() -> list[str]:
    """Answerable single-turn questions; one the app refuses is a trial not measured."""
    lines = (ROOT / "knowledge" / "eval" / "dev.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    return [e["question"] for e in entries if e["expected"] and not e.get("previous")]


def start_synthetic(port: int) -> subprocess.Popen:
    log = devstack.VAR_DIR / "bench-synthetic-llm.log"
    proc = wsclient.start_synthetic(
        port, ttft_ms=args.ttft_ms, tokens_per_second=args.tokens_per_second,
        max_tokens=args.max_tokens, model=settings.LLM_MODEL, log=log,
    )  # fmt: skip
    return proc


def forget(sessions: list[str]) -> None:
    """Delete the benchmark's conversations and their streams."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    tokens = (store(session_key=key).get(SESSION_TOKEN) for key in sessions)
    hashes = [token_hash(token) for token in tokens if token]
    Conversation.objects.filter(token_hash__in=hashes).delete()
    streams.forget(token_hashes=hashes)


def main() -> None:
    children: list[subprocess.Popen] = []
    sessions: list[str] = []
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if article_count() == 0:
            call_command("ingest_kb", str(ROOT / "knowledge" / "demo_kb"), verbosity=0)
        if args.llm == "synthetic":
            llm_port = free_port()
            children.append(start_synthetic(llm_port))
            os.environ["LLM_BASE_URL"] = f"http://127.0.0.1:{llm_port}/v1"  # for daphne
        llm_url = os.environ["LLM_BASE_URL"]
        ports = [free_port() for _ in range(args.processes)]
        daphnes = [start_daphne(port) for port in ports]
        children += daphnes
        print(f"daphne on {', '.join(f':{p}' for p in ports)}", file=sys.stderr)
        rows, lost = asyncio.run(run(ports, pick_questions(), sessions))
        if not rows:
            sys.exit(f"no trial could be measured: {lost}")
        result = report(rows, lost, llm_url, [d.pid for d in daphnes])
        if args.json:
            print(json.dumps(result, indent=2))
    finally:
        for proc in children:
            stop(proc)
        forget(sessions)
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
