"""Time from killing the LLM server mid-answer to the fallback on the customer's socket.

A llama.cpp server of the benchmark's own (never the embedded one, which other processes
may share) runs on a fixed port, and daphne is pointed at it. Each run, a fresh session asks
a question; after the first tokens arrive the server gets SIGKILL, and the clock runs from
the kill to the `fallback` frame. The server is started again for the next run.
See benchmarks/README.md.
"""

import argparse
import asyncio
import json
import logging
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line
if VAR_AS_GIVEN:  # absolute, so the daphne child (cwd=ROOT) finds the same services
    os.environ["HELPDESK_VAR_DIR"] = str(Path(VAR_AS_GIVEN).resolve())

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--runs", type=int, default=5)
parser.add_argument("--tokens", type=int, default=3, help="tokens to wait for before the kill")
parser.add_argument("--port", type=int, default=0, help="daphne's port (default: a free one)")
parser.add_argument("--json", action="store_true", help="also print the results as JSON")
args = parser.parse_args()
# A long cap, so the kill always lands mid-answer; the daphne child inherits it. A fresh
# server on a busy CPU can take long over its first prompt: that wait is not measured.
os.environ["LLM_MAX_TOKENS"] = "400"
os.environ["LLM_FIRST_TOKEN_TIMEOUT"] = "120"

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (no LLM started here) for what the environment leaves unset, started
# (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=False)
django.setup()
logging.getLogger("httpx2").setLevel(logging.WARNING)

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from benchmarks.wsclient import WebSocket, free_port, new_session, start_daphne, stop  # noqa: E402
from chat.models import Message  # noqa: E402
from knowledge.retrieval import embed, query_for, retrieve  # noqa: E402
from knowledge.selectors import article_count  # noqa: E402


async def one_run(port: int, llm, question: str) -> dict:
    ws = await WebSocket.connect(port, "/ws/chat/", new_session(port))
    try:
        await ws.send(0x1, json.dumps({"type": "message", "text": question}).encode())
        for _ in range(args.tokens):
            if (msg := await ws.recv_json())["type"] != "token":
                raise RuntimeError(f"expected a token before the kill, got {msg}")
        llm.kill()  # SIGKILL: no goodbye on the open connection, as in a crash
        killed = time.perf_counter()
        late_tokens = 0  # already on their way when the server died
        while (msg := await ws.recv_json())["type"] != "fallback":
            if msg["type"] != "token":
                raise RuntimeError(f"expected the fallback, got {msg}")
            late_tokens += 1
        seconds = time.perf_counter() - killed
        done = await ws.recv_json()
    finally:
        await ws.close()
    llm.wait()
    stored = await Message.objects.aget(pk=done["message_id"])
    return {"ms": seconds * 1000, "late_tokens": late_tokens, "reason": msg["reason"],
            "interrupted": stored.interrupted, "fallback": stored.fallback}  # fmt: skip


def questions() -> list[str]:
    lines = (ROOT / "knowledge" / "eval" / "dev.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    wanted = [e["question"] for e in entries if e["expected"] and not e.get("previous")]
    # Only questions the app answers with the LLM: a refusal never reaches it.
    return [q for q in wanted if not retrieve(embedded=embed(query_for(question=q))).refused]


def report(rows: list[dict], command: str) -> None:
    ms = [r["ms"] for r in rows]
    print(f"\nCommand: {command}")
    print(f"cpus {os.cpu_count()}, load avg (1 min) {os.getloadavg()[0]:.2f}, model "
          f"{settings.LLM_MODEL}, killed after {args.tokens} tokens")  # fmt: skip
    print(
        f"\n{'run':>4} {'kill -> fallback ms':>20} {'late tokens':>12} {'stored interrupted':>19}"
    )
    for i, r in enumerate(rows, 1):
        print(f"{i:>4} {r['ms']:>20.1f} {r['late_tokens']:>12} {r['interrupted']!s:>19}")
    print(f"\nkill -> fallback over {len(ms)} runs: p50 {statistics.median(ms):.1f} ms, "
          f"mean {statistics.mean(ms):.1f} ms, max {max(ms):.1f} ms")  # fmt: skip


def main() -> None:
    daphne = llm = None
    log = devstack.VAR_DIR / "bench-llm" / "server.log"
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if article_count() == 0:
            call_command("ingest_kb", str(ROOT / "knowledge" / "demo_kb"), verbosity=0)
        asked = questions()[: args.runs]
        llm_port = free_port()
        os.environ["LLM_BASE_URL"] = f"http://127.0.0.1:{llm_port}/v1"  # for daphne
        llm = devstack.start_llm_server(port=llm_port, log=log)
        port = args.port or free_port()
        daphne = start_daphne(port)
        rows = []
        for i in range(args.runs):
            if llm.poll() is not None:
                llm = devstack.start_llm_server(port=llm_port, log=log)
            rows.append(asyncio.run(one_run(port, llm, asked[i % len(asked)])))
            print(f"  {i + 1}/{args.runs} {rows[-1]['ms']:.1f} ms", file=sys.stderr)
        prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
        command = prefix + shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
        report(rows, command)
        if args.json:
            print(json.dumps({"command": command, "runs": rows}, indent=2))
    finally:
        for proc in (daphne, llm):
            if proc is not None:
                stop(proc)
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
