"""Prefix cache: time to first token with the product's prompt layout vs layouts that break it.

llama.cpp keeps the KV cache of the previous request and re-evaluates only what follows the
longest common prefix. The product puts the constant system prompt first (chat/prompts.py),
so consecutive customers share it; putting the retrieved context, or a per-request line
such as a timestamp, before it makes every prompt differ from the first tokens on. The
prompts are the product's own (build_messages on retrieved chunks), against a llama.cpp
server of this script's own. See benchmarks/README.md.
"""

import argparse
import asyncio
import json
import logging
import os
import re
import shlex
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line
if VAR_AS_GIVEN:
    os.environ["HELPDESK_VAR_DIR"] = str(Path(VAR_AS_GIVEN).resolve())
LOAD_AT_START = os.getloadavg()[0]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--questions", type=int, default=20, help="timed requests per layout")
parser.add_argument("--max-tokens", type=int, default=4, help="tokens per answer (TTFT only)")
parser.add_argument("--block", type=int, default=1, help="questions in a row per layout")
parser.add_argument("--json", action="store_true", help="also print the results as JSON")
args = parser.parse_args()

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (no LLM started here) for what the environment leaves unset, started
# (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=False)
django.setup()
logging.getLogger("httpx2").setLevel(logging.WARNING)

import openai  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from benchmarks.wsclient import free_port, stop  # noqa: E402
from chat.prompts import build_messages, format_context, system_prompt  # noqa: E402
from knowledge.retrieval import embed, query_for, retrieve  # noqa: E402
from knowledge.selectors import article_count  # noqa: E402

# llama-cpp-python's server logs each prompt's cache reuse (it is verbose by default).
PREFIX_HIT = re.compile(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")
PROMPT_EVAL = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")
# The deployment's prompt (its brand is a setting), the same for every request.
SYSTEM_PROMPT = system_prompt()


def product(question: str, chunks) -> list[dict]:
    """(a) The product's layout: the constant system prompt first, the context last."""
    return build_messages(question=question, chunks=chunks, history=[])


def context_first(question: str, chunks) -> list[dict]:
    """(b) The same text reordered: the retrieved context opens the system message."""
    context = f"<context>\n{format_context(chunks)}\n</context>\n\n"
    return [
        {"role": "system", "content": context + SYSTEM_PROMPT},
        {"role": "user", "content": f"<question>\n{question}\n</question>"},
    ]


def stamp_first(question: str, chunks) -> list[dict]:
    """(c) The product's prompt with a per-request line before the rules, a common slip."""
    messages = product(question, chunks)
    stamp = f"Session {uuid.uuid4().hex[:8]}, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC.\n\n"
    messages[0] = {"role": "system", "content": stamp + SYSTEM_PROMPT}
    return messages


LAYOUTS = {
    "(a) product: system prompt first": product,
    "(b) retrieved context first": context_first,
    "(c) request id + timestamp first": stamp_first,
}


class LogTail:
    """What the server logged since the last call (one request's cache lines)."""

    def __init__(self, path: Path):
        self.path, self.offset = path, path.stat().st_size

    def read(self) -> str:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            text = fh.read().decode(errors="replace")
        self.offset += len(text.encode())
        return text


async def ttft(client, messages: list[dict], max_tokens: int) -> float:
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=settings.LLM_MODEL, messages=messages, max_tokens=max_tokens, temperature=0,
        stream=True,
    )  # fmt: skip
    first = None
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - start
    return first if first is not None else time.perf_counter() - start


async def timed(client, log: LogTail, messages: list[dict]) -> dict:
    seconds = await ttft(client, messages, args.max_tokens)
    await asyncio.sleep(0.05)  # the server writes its timings after the stream ends
    text = log.read()
    hit = PREFIX_HIT.search(text)
    evaluated = PROMPT_EVAL.search(text)
    reused = int(hit.group(1)) if hit else 0
    to_eval = int(hit.group(2)) if hit else int(evaluated.group(1)) if evaluated else None
    return {"ttft": seconds, "reused": reused, "evaluated": to_eval}


async def run(base_url: str, log: LogTail, prompts: list[tuple[str, list]]) -> dict:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="-", max_retries=0, timeout=120)
    rows = {name: [] for name in LAYOUTS}
    names = list(LAYOUTS)
    blocks = -(-args.questions // args.block)
    for b in range(blocks):
        # --block questions per layout in a row, the layouts' order rotating, so that drift
        # in the machine's load hits all three alike. Every timed request follows another
        # customer's question in the same layout, as in a steady stream of customers: an
        # untimed request (the question before the block's first) opens each block.
        for name in names[b % 3 :] + names[: b % 3]:
            await ttft(client, LAYOUTS[name](*prompts[(b * args.block - 1) % len(prompts)]), 1)
            log.read()
            for i in range(b * args.block, min((b + 1) * args.block, args.questions)):
                messages = LAYOUTS[name](*prompts[i % len(prompts)])
                rows[name].append(await timed(client, log, messages))
        done = min((b + 1) * args.block, args.questions)
        p50s = "  ".join(f"{statistics.median(r['ttft'] for r in rows[n]) * 1000:7.1f}"
                         for n in names)  # fmt: skip
        print(f"  {done:2}/{args.questions} ttft p50 so far, ms a/b/c {p50s}", file=sys.stderr)
    return rows


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def report(rows: dict, command: str) -> dict:
    print(f"\nCommand: {command}")
    print(f"llm               own llama.cpp server, model {devstack.LLM_ALIAS} (n_threads "
          f"{os.cpu_count()}), max_tokens {args.max_tokens}, temperature 0")  # fmt: skip
    print(f"cpus              {os.cpu_count()}, load avg (1 min) {LOAD_AT_START:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")  # fmt: skip
    print(f"\nTime to first token by prompt layout ({args.questions} questions each, in blocks of "
          f"{args.block}; each request follows another question in the same layout)")  # fmt: skip
    print(f"{'layout':34} {'n':>3} {'prompt tok':>11} {'cached tok':>11} {'evaluated':>10}"
          f" {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")  # fmt: skip
    base = [r["ttft"] for r in rows[next(iter(LAYOUTS))]]
    table = {}
    for name, results in rows.items():
        ms = [r["ttft"] * 1000 for r in results]
        reused = statistics.mean(r["reused"] for r in results)
        evaluated = statistics.mean(r["evaluated"] or 0 for r in results)
        table[name] = {"n": len(ms), "p50": statistics.median(ms), "p95": p95(ms),
                       "mean": statistics.mean(ms), "cached_tokens": reused,
                       "evaluated_tokens": evaluated}  # fmt: skip
        print(f"{name:34} {len(ms):>3} {reused + evaluated:>11.0f} {reused:>11.0f} "
              f"{evaluated:>10.0f} {table[name]['p50']:>8.1f} {table[name]['p95']:>8.1f} "
              f"{table[name]['mean']:>8.1f}")  # fmt: skip
    print("\nPaired difference from (a), per question (ms):")
    for name, results in list(rows.items())[1:]:
        diff = [(r["ttft"] - b) * 1000 for r, b in zip(results, base, strict=True)]
        slower = sum(d > 0 for d in diff)
        print(f"  {name:32} p50 {statistics.median(diff):+7.1f}  mean "
              f"{statistics.mean(diff):+7.1f}  slower in {slower}/{len(diff)}")  # fmt: skip
        table[name]["paired_diff_p50_ms"] = statistics.median(diff)
    return table


def main() -> None:
    llm = None
    log_path = devstack.VAR_DIR / "bench-prefix-llm" / "server.log"
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if article_count() == 0:
            call_command("ingest_kb", str(ROOT / "knowledge" / "demo_kb"), verbosity=0)
        lines = (ROOT / "knowledge" / "eval" / "dev.jsonl").read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        prompts = []
        for e in entries:
            if e["expected"] and not e.get("previous"):
                found = retrieve(embedded=embed(query_for(question=e["question"])))
                if not found.refused:  # the product would not call the LLM
                    prompts.append((e["question"], found.chunks))
        # A server of our own: another process's requests would replace the cached prefix.
        port = free_port()
        llm = devstack.start_llm_server(port=port, log=log_path)
        rows = asyncio.run(run(f"http://127.0.0.1:{port}/v1", LogTail(log_path), prompts))
        prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
        command = prefix + shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
        table = report(rows, command)
        if args.json:
            print(json.dumps({"command": command, "layouts": table, "rows": rows}, indent=2))
    finally:
        if llm is not None:
            stop(llm)
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
