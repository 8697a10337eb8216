"""Time to first token: the app over its WebSocket versus the same prompt sent straight to the LLM.

Both arms run per question, back to back, against one LLM server with the same KV cache
state, so "app overhead" (embedding, retrieval, history, DB writes, Channels, the socket) is
a paired difference, not two runs compared across time. See benchmarks/README.md.
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
LOAD_AT_START = os.getloadavg()[0]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--questions", type=int, default=24, help="how many (at least 20)")
parser.add_argument("--port", type=int, default=0, help="daphne's port (default: a free one)")
parser.add_argument("--max-tokens", type=int, default=64, help="answer length cap, both arms")
parser.add_argument("--json", action="store_true", help="also print the results as JSON")
args = parser.parse_args()
if args.questions < 20:
    parser.error("--questions must be at least 20: fewer makes p95 meaningless")
# Set before settings load, so this process and the daphne child agree on the cap.
os.environ["LLM_MAX_TOKENS"] = str(args.max_tokens)

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (the LLM too) for what the environment leaves unset, started
# (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=True)
django.setup()
# openai 3.x logs each request through "httpx2" at INFO (settings only quiets "httpx").
logging.getLogger("httpx2").setLevel(logging.WARNING)

import openai  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from benchmarks.wsclient import WebSocket, free_port, new_session, start_daphne, stop  # noqa: E402
from chat.answering import sources_for  # noqa: E402
from chat.prompts import build_messages, system_prompt  # noqa: E402
from knowledge.embeddings import model_name  # noqa: E402
from knowledge.retrieval import embed, query_for, retrieve  # noqa: E402
from knowledge.selectors import article_count  # noqa: E402


async def app_arm(port: int, question: str, prime) -> dict:
    ws = await WebSocket.connect(port, "/ws/chat/", new_session(port))
    try:
        await prime()  # after connecting, so nothing else reaches the LLM before the send
        start = time.perf_counter()
        await ws.send(0x1, json.dumps({"type": "message", "text": question}).encode())
        first, deltas, sources = None, 0, None
        while (msg := await ws.recv_json())["type"] != "done":
            if msg["type"] == "token":
                deltas += 1
                first = first or time.perf_counter() - start
            elif msg["type"] == "sources":
                sources = msg["sources"]
            elif msg["type"] in ("fallback", "error"):  # a fallback TTFT would be meaningless
                raise RuntimeError(f"the app answered with {msg}")
        return {"ttft": first, "total": time.perf_counter() - start, "deltas": deltas,
                "sources": sources}  # fmt: skip
    finally:
        await ws.close()


async def direct_arm(client, messages: list[dict], prime) -> dict:
    await prime()
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=settings.LLM_MODEL,
        messages=messages,
        max_tokens=args.max_tokens,
        temperature=settings.LLM_TEMPERATURE,
        stream=True,
    )
    first, deltas = None, 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:  # what the app sends as `token`
            deltas += 1
            first = first or time.perf_counter() - start
    return {"ttft": first, "total": time.perf_counter() - start, "deltas": deltas}


async def run(port: int, base_url: str, prompts: list[tuple]) -> list[dict]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key=settings.LLM_API_KEY, timeout=120)
    hi = [{"role": "system", "content": system_prompt()}, {"role": "user", "content": "hi"}]

    async def prime():
        # llama.cpp reuses the KV cache of the previous prompt's common prefix. Leaving
        # exactly the system prompt cached before each timed request makes the arms equal.
        await client.chat.completions.create(model=settings.LLM_MODEL, messages=hi, max_tokens=1)

    # One untimed round: first-request costs (connections, lazy imports) are not overhead.
    await app_arm(port, prompts[0][0], prime)
    await direct_arm(client, prompts[0][1], prime)
    rows = []
    for i, (question, messages, sources) in enumerate(prompts):
        if i % 2 == 0:  # alternate who goes first, so drift over the run hits both arms
            app = await app_arm(port, question, prime)
            direct = await direct_arm(client, messages, prime)
        else:
            direct = await direct_arm(client, messages, prime)
            app = await app_arm(port, question, prime)
        # The app shows only the sources its answer used, a subset of what it retrieved;
        # a subset of the same retrieval means the same prompt.
        shown = {s["slug"] for s in app.pop("sources") or []}
        same = bool(shown) and shown <= {s["slug"] for s in sources}
        rows.append({"question": question, "app": app, "direct": direct, "same_sources": same})
        ms = f"app {app['ttft'] * 1000:7.1f} ms  direct {direct['ttft'] * 1000:7.1f} ms"
        print(f"  {i + 1:2}/{len(prompts)} {ms}  {question[:50]}", file=sys.stderr)
    return rows


def stats(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    p95 = statistics.quantiles(ms, n=100, method="inclusive")[94]
    return {"n": len(ms), "p50": statistics.median(ms), "p95": p95, "mean": statistics.mean(ms)}


def report(rows: list[dict], base_url: str) -> dict:
    app, direct = ([r[arm]["ttft"] for r in rows] for arm in ("app", "direct"))
    overhead = [a - d for a, d in zip(app, direct, strict=True)]
    table = {
        "app (WebSocket)": stats(app),
        "direct LLM": stats(direct),
        "app overhead (paired per question)": stats(overhead),
    }
    env = {
        "llm": f"{base_url} model={settings.LLM_MODEL}",
        "embedding model": model_name(),
        "cpus": os.cpu_count(),
        "retrieval top k": settings.RETRIEVAL_TOP_K,
        "max tokens": args.max_tokens,
        # On a shared machine the LLM's prompt evaluation is noisy; this says how busy it was.
        "load avg (1 min)": f"{LOAD_AT_START:.2f} at start, {os.getloadavg()[0]:.2f} at end",
    }
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    command = prefix + shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
    print(f"\nCommand: {command}")
    for key, value in env.items():
        print(f"{key:17} {value}")
    print(f"\nTime to first token ({len(rows)} questions, one run)")
    print(f"{'':36} {'n':>4} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9}")
    for name, s in table.items():
        print(f"{name:36} {s['n']:>4} {s['p50']:>9.1f} {s['p95']:>9.1f} {s['mean']:>9.1f}")
    totals = {arm: stats([r[arm]["total"] for r in rows])["p50"] for arm in ("app", "direct")}
    deltas = {arm: statistics.mean(r[arm]["deltas"] for r in rows) for arm in ("app", "direct")}
    same = sum(r["same_sources"] for r in rows)
    print(f"\nTotal answer time p50: app {totals['app']:.1f} ms, direct {totals['direct']:.1f} ms")
    print(f"Mean deltas per answer: app {deltas['app']:.1f}, direct {deltas['direct']:.1f}")
    print(f"Same retrieved sources in both arms: {same}/{len(rows)}")
    return {"command": command, "environment": env, "ttft_ms": table, "total_p50_ms": totals,
            "mean_deltas": deltas, "same_sources": same, "rows": rows}  # fmt: skip


def main() -> None:
    daphne = None
    try:
        base_url = settings.LLM_BASE_URL
        call_command("migrate", interactive=False, verbosity=0)
        if article_count() == 0:
            call_command("ingest_kb", str(ROOT / "knowledge" / "demo_kb"), verbosity=0)
        lines = (ROOT / "knowledge" / "eval" / "dev.jsonl").read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        # Answerable single-turn questions: the app refuses the others without an LLM call.
        questions = [e["question"] for e in entries if e["expected"] and not e.get("previous")]
        # The direct arm's prompts, built as chat/answering.py builds them (a fresh session
        # has no history). Built up front: the direct arm times the LLM alone.
        prompts = []
        for q in questions:
            found = retrieve(embedded=embed(query_for(question=q)))
            if found.refused:
                continue
            messages = build_messages(question=q, chunks=found.chunks, history=[])
            prompts.append((q, messages, sources_for(found.chunks)))
        prompts = prompts[: args.questions]
        if len(prompts) < args.questions:
            sys.exit(f"dev.jsonl has only {len(prompts)} answerable single-turn questions")
        port = args.port or free_port()
        daphne = start_daphne(port)
        rows = asyncio.run(run(port, base_url, prompts))
        result = report(rows, base_url)
        if args.json:
            print(json.dumps(result, indent=2))
    finally:
        if daphne is not None:
            stop(daphne)
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
