"""Load: N concurrent WebSocket customers against one daphne process of the app.

Each customer opens the support page for a session of its own, connects to /ws/chat/ and
asks a few answerable questions from knowledge/eval/dev.jsonl, with think time between them.
Per concurrency level it reports time to first token, tokens/s per stream, errors by kind,
and the daphne process's CPU and peak memory.

`--llm synthetic` (the default) points the app at benchmarks/synthetic_llm.py, a SYNTHETIC
server that streams made-up words at a fixed rate, so the app's own capacity is measured
rather than the 2-core CPU model's: overhead = time to first token minus its fixed TTFT.
`--llm embedded` uses the embedded llama.cpp server. See benchmarks/README.md.
"""

import argparse
import asyncio
import json
import logging
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from http.cookies import SimpleCookie
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
parser.add_argument("--customers", default="10,50,200", help="concurrency levels, comma-separated")
parser.add_argument("--questions", type=int, default=3, help="questions per customer")
parser.add_argument("--think", default="0.5-2", help="seconds between questions, min-max")
parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which customers join")
parser.add_argument("--max-tokens", type=int, default=64, help="answer length (LLM_MAX_TOKENS)")
parser.add_argument("--ttft-ms", type=float, default=20.0, help="synthetic server's fixed TTFT")
parser.add_argument("--tokens-per-second", type=float, default=50.0, help="synthetic, per stream")
parser.add_argument("--timeout", type=float, default=60.0, help="per question, seconds")
parser.add_argument("--direct", action="store_true", help="also a row straight to the LLM")
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--port", type=int, default=0, help="daphne's port (default: a free one)")
parser.add_argument("--json", action="store_true", help="also print the results as JSON")
args = parser.parse_args()
LEVELS = [int(n) for n in args.customers.split(",")]
THINK = tuple(float(s) for s in args.think.split("-"))
# Set before settings load, so this process and the daphne child agree. Every customer
# comes from 127.0.0.1, and each would be a new visitor: the limits must not count here.
os.environ.update(
    RATELIMIT_SESSION="100000/m",
    RATELIMIT_IP="100000/m",
    RATELIMIT_PAGES="100000/m",
    LLM_MAX_TOKENS=str(args.max_tokens),
)

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (the LLM too, unless synthetic) for what the environment leaves
# unset, started (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
EMBEDDED = devstack.hand_over(llm=args.llm != "synthetic")
django.setup()
logging.getLogger("httpx2").setLevel(logging.WARNING)

import openai  # noqa: E402
from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from benchmarks import wsclient  # noqa: E402
from benchmarks.wsclient import (  # noqa: E402
    ConnectionClosed,
    HandshakeRefused,
    WebSocket,
    free_port,
    start_daphne,
    stop,
)
from chat.models import SESSION_TOKEN, Conversation, Message, token_hash  # noqa: E402
from chat.prompts import build_messages  # noqa: E402
from knowledge.retrieval import embed, query_for, retrieve  # noqa: E402
from knowledge.selectors import article_count  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- One customer -------------------------------------------------------------------------


async def session_cookie(port: int) -> str:
    """GET / for a new sessionid, on asyncio streams (urllib would block the loop)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    await reader.read()  # the page itself, up to the close
    writer.close()
    status = head.split(" ", 2)[1]
    if status != "200":
        raise PageRefused(status)
    cookies = SimpleCookie()
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "set-cookie":
            cookies.load(value.strip())
    return f"sessionid={cookies['sessionid'].value}"


class PageRefused(ConnectionError):
    pass


def think() -> float:
    return random.uniform(*THINK)


async def app_question(ws: WebSocket, question: str) -> dict:
    """Ask one question; the clock runs from the send to the first `token` frame."""
    start = time.perf_counter()
    await ws.send_json({"type": "message", "text": question})
    first = last = None
    words, later, outcome = 0, 0, "answered"
    while (msg := await ws.recv_json())["type"] != "done":
        kind = msg["type"]
        if kind == "token":
            # A frame may hold several tokens (chat/batching.py): count words, which for
            # the synthetic server are its tokens.
            last, count = time.perf_counter(), len(msg["text"].split())
            words, later = words + count, later + (count if first else 0)
            first = first or last
        elif kind == "refusal":
            outcome = "refusal"  # no_evidence: no tokens, reported apart from errors
        elif kind == "fallback":
            outcome = f"fallback:{msg['reason']}"
        elif kind == "error":
            return {"outcome": f"error:{msg['code']}"}  # no `done` follows an error
    return timing(outcome, start, first, last, words, later)


def timing(outcome: str, start: float, first, last, words: int, later: int) -> dict:
    """`later`: the words that came after the first token's frame or delta."""
    result = {"outcome": outcome, "total": time.perf_counter() - start, "tokens": words}
    if first is not None:
        result["ttft"] = first - start
    if later and last > first:  # the rate after the first token: the first one is TTFT's
        result["tokens_per_s"] = later / (last - first)
    return result


async def app_customer(port: int, delay: float, questions: list[str], keys: list[str]) -> list:
    await asyncio.sleep(delay)  # the ramp
    results: list[dict] = []
    stage = "page"
    try:
        async with asyncio.timeout(args.timeout):
            cookie = await session_cookie(port)
            keys.append(cookie.split("=", 1)[1])
            stage = "handshake"
            ws = await WebSocket.connect(port, "/ws/chat/", cookie)
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
        # Every question of a customer that never got a socket counts, under one kind.
        return [{"outcome": failure(exc, stage)}] * len(questions)
    try:
        for i, question in enumerate(questions):
            if i:
                await asyncio.sleep(think())
            try:
                async with asyncio.timeout(args.timeout):
                    results.append(await app_question(ws, question) | {"nth": i})
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                # The socket's state is unknown: this customer stops, the rest count as lost.
                results.append({"outcome": failure(exc, "socket")})
                results += [{"outcome": "not asked"}] * (len(questions) - len(results))
                break
    finally:
        await ws.close()
    return results


def failure(exc: BaseException, stage: str) -> str:
    if isinstance(exc, TimeoutError):
        return f"timeout:{stage}"
    if isinstance(exc, (HandshakeRefused, PageRefused)):
        return f"refused:{stage}:{exc.status if isinstance(exc, HandshakeRefused) else exc}"
    if isinstance(exc, ConnectionClosed):
        return f"closed:{exc.code}"
    return f"{stage}:{type(exc).__name__}"


# --- The same questions straight to the LLM ----------------------------------------------


async def direct_question(client, messages: list[dict]) -> dict:
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=settings.LLM_MODEL,
        messages=messages,
        max_tokens=args.max_tokens,
        temperature=settings.LLM_TEMPERATURE,
        stream=True,
    )
    first = last = None
    words = later = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:  # what the app sends as `token`
            last, count = time.perf_counter(), len(chunk.choices[0].delta.content.split())
            words, later = words + count, later + (count if first else 0)
            first = first or last
    return timing("answered", start, first, last, words, later)


async def direct_customer(client, delay: float, prompts: list[list[dict]]) -> list:
    await asyncio.sleep(delay)
    results = []
    for i, messages in enumerate(prompts):
        if i:
            await asyncio.sleep(think())
        try:
            async with asyncio.timeout(args.timeout):
                results.append(await direct_question(client, messages) | {"nth": i})
        except TimeoutError:
            results.append({"outcome": "timeout:llm"})
        except (openai.OpenAIError, OSError) as exc:
            results.append({"outcome": f"llm:{type(exc).__name__}"})
    return results


# --- Measuring the processes --------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def embedder_pid(app_pid: int) -> int | None:
    """The app's query-embedding child process (knowledge/embeddings/child.py), if it runs one."""
    try:
        children = [
            pid
            for task in Path(f"/proc/{app_pid}/task").iterdir()
            for pid in (task / "children").read_text().split()
        ]
    except OSError:
        return None
    for pid in children:
        try:
            if b"knowledge.embeddings" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        except OSError:
            continue
    return None


def machine_busy_seconds() -> float:
    """CPU time of the whole machine, all cores, not idle: is the box itself the limit?"""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS  # minus idle and iowait


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


async def sample_rss(pid: int, peak: list[float]) -> None:
    # VmHWM is the peak over the process's life; sampling gives each level its own peak.
    while True:
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(0.2)


async def level(name: str, n: int, customers, pids: dict[str, int | None]) -> dict:
    """Run n customers (a callable: index, ramp delay -> coroutine) and measure."""
    pids = {**pids, "embedder": embedder_pid(pids["app"])}
    before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    before["client"] = sum(os.times()[:2])
    before["machine"] = machine_busy_seconds()
    peak = [0.0]
    sampler = asyncio.create_task(sample_rss(pids["app"], peak))
    start = time.perf_counter()
    per_customer = await asyncio.gather(*(customers(i, args.ramp * i / n) for i in range(n)))
    seconds = time.perf_counter() - start
    sampler.cancel()
    after = {k: cpu_seconds(pid) for k, pid in pids.items()}
    after["client"] = sum(os.times()[:2])
    after["machine"] = machine_busy_seconds()
    cpu = {k: (after[k] - before[k]) / seconds * 100 for k in after}
    cpu.update({k: None for k, pid in pids.items() if pid is None})
    results = [r for rs in per_customer for r in rs]
    return {"arm": name, "customers": n, "results": results, "seconds": seconds, "cpu": cpu,
            "peak_rss_mb": peak[0], "hwm_mb": rss_mb(pids["app"], "VmHWM")}  # fmt: skip


async def synthetic_stats(url: str) -> dict | None:
    """The synthetic server's own count since the last call (it resets), else None."""
    if args.llm != "synthetic":
        return None
    stats_url = url.removesuffix("/v1") + "/stats?reset=1"

    def get() -> dict:
        with urllib.request.urlopen(stats_url, timeout=10) as resp:
            return json.load(resp)

    return await asyncio.to_thread(get)


async def run(port: int, llm_url: str, questions: list[str], prompts: dict, pids, keys) -> list:
    client = openai.AsyncOpenAI(base_url=llm_url, api_key=settings.LLM_API_KEY, max_retries=0,
                                timeout=args.timeout)  # fmt: skip
    rows = []
    await synthetic_stats(llm_url)  # a fresh count for the first level
    for n in LEVELS:
        random.seed(args.seed)  # each level, and each arm, thinks the same

        def asked(i: int) -> list[str]:
            return [questions[(i * args.questions + j) % len(questions)]
                    for j in range(args.questions)]  # fmt: skip

        def app(i: int, delay: float):
            return app_customer(port, delay, asked(i), keys)

        since = await sync_to_async(last_message_pk)()
        rows.append(await level("app", n, app, pids))
        rows[-1]["llm_server"] = await synthetic_stats(llm_url)
        rows[-1]["stages"] = await sync_to_async(stage_timings)(since, keys)
        print(f"  {n} customers, app: {rows[-1]['seconds']:.1f} s", file=sys.stderr)
        if args.direct:
            random.seed(args.seed)

            def direct(i: int, delay: float):
                return direct_customer(client, delay, [prompts[q] for q in asked(i)])

            rows.append(await level("direct", n, direct, pids))
            rows[-1]["llm_server"] = await synthetic_stats(llm_url)
            print(f"  {n} customers, direct: {rows[-1]['seconds']:.1f} s", file=sys.stderr)
        await asyncio.sleep(2)  # let the last sockets close before the next level
    return rows


def last_message_pk() -> int:
    return Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


STAGES = ("receive", "conversation", "history", "embedding", "question_write",
          "embedding_followup", "retrieval", "llm_ttft", "first_token_out")  # fmt: skip


def hashes(session_keys: list[str]) -> list[str]:
    """The benchmark's conversations, through the chat token in each of its sessions."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    tokens = (store(session_key=key).get(SESSION_TOKEN) for key in session_keys)
    return [token_hash(token) for token in tokens if token]


def stage_timings(since: int, keys: list[str]) -> dict[str, tuple]:
    """p50/p95 of each stage the app stored with its answers (chat/timings.py): where the
    app's own time to first token went, measured inside the process."""
    stored = Message.objects.filter(
        pk__gt=since, role=Message.Role.ASSISTANT, conversation__token_hash__in=hashes(keys)
    ).values_list("timings", flat=True)
    stored = [t for t in stored if t]
    return {
        stage: (percentile(v, 50), percentile(v, 95))
        for stage in STAGES
        if (v := [t[stage] for t in stored if stage in t])
    }


# --- Reporting ----------------------------------------------------------------------------


def percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def pcts(results: list[dict]) -> tuple[float | None, float | None]:
    ttft = [r["ttft"] * 1000 for r in results if r["outcome"] == "answered" and "ttft" in r]
    return percentile(ttft, 50), percentile(ttft, 95)


def summary(row: dict) -> dict:
    results = row["results"]
    outcomes = Counter(r["outcome"] for r in results)
    ttft = [r["ttft"] * 1000 for r in results if r["outcome"] == "answered" and "ttft" in r]
    # The synthetic server waits exactly --ttft-ms before its first token: the rest is
    # the app's (or, in the direct row, the client's and the server's own) overhead.
    fixed = args.ttft_ms if args.llm == "synthetic" else None
    overhead = [t - fixed for t in ttft] if fixed is not None else []
    rates = [r["tokens_per_s"] for r in results if "tokens_per_s" in r]
    errors = {k: v for k, v in outcomes.items() if k not in ("answered", "refusal")}
    server = row.get("llm_server") or {}
    return {
        "arm": row["arm"],
        "customers": row["customers"],
        "questions": len(results),
        "answered": outcomes["answered"],
        "refusals": outcomes["refusal"],
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "ttft_ms_p50": percentile(ttft, 50),
        "ttft_ms_p95": percentile(ttft, 95),
        "overhead_ms_p50": percentile(overhead, 50),
        "overhead_ms_p95": percentile(overhead, 95),
        "tokens_per_s_p50": percentile(rates, 50),
        "seconds": row["seconds"],
        "cpu_percent": row["cpu"],
        "app_peak_rss_mb": row["peak_rss_mb"] if row["arm"] == "app" else None,
        "app_vmhwm_mb": row["hwm_mb"],
        "peak_llm_streams": server.get("peak_concurrent_streams"),
        "llm_server": server or None,
        "stages": row.get("stages"),
        # The first questions arrive together over the ramp; the later ones spread out.
        "ttft_ms_first": pcts([r for r in results if r.get("nth") == 0]),
        "ttft_ms_later": pcts([r for r in results if r.get("nth", 0) > 0]),
    }


COLUMNS = [  # header, width, key, format
    ("arm", 6, "arm", "{}"),
    ("cust", 5, "customers", "{}"),
    ("asked", 6, "questions", "{}"),
    ("ok", 5, "answered", "{}"),
    ("refus", 6, "refusals", "{}"),
    ("errors", 7, "errors", "{}"),
    ("ttft p50", 9, "ttft_ms_p50", "{:.1f}"),
    ("ttft p95", 9, "ttft_ms_p95", "{:.1f}"),
    ("ovh p50", 8, "overhead_ms_p50", "{:.1f}"),
    ("ovh p95", 8, "overhead_ms_p95", "{:.1f}"),
    ("words/s p50", 11, "tokens_per_s_p50", "{:.1f}"),
    ("streams", 8, "peak_llm_streams", "{}"),
    ("secs", 6, "seconds", "{:.1f}"),
    ("app CPU%", 9, ("cpu_percent", "app"), "{:.0f}"),
    ("emb CPU%", 9, ("cpu_percent", "embedder"), "{:.0f}"),
    ("app MB", 7, "app_peak_rss_mb", "{:.0f}"),
    ("LLM CPU%", 9, ("cpu_percent", "llm"), "{:.0f}"),
    ("load CPU%", 10, ("cpu_percent", "client"), "{:.0f}"),
    ("all CPU%", 9, ("cpu_percent", "machine"), "{:.0f}"),
]


PCTS = ("p50", "p95", "max")


def cell(s: dict, key, fmt: str) -> str:
    value = s[key[0]][key[1]] if isinstance(key, tuple) else s[key]
    return "—" if value is None else fmt.format(value)


def report(summaries: list[dict], llm_url: str, daphne_pid: int) -> str:
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    command = prefix + shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
    if args.llm == "synthetic":
        llm = (f"SYNTHETIC (benchmarks/synthetic_llm.py, not a model) {llm_url}: ttft "
               f"{args.ttft_ms:g} ms, {args.tokens_per_second:g} tokens/s per stream")  # fmt: skip
    else:
        llm = f"embedded llama.cpp {llm_url} model={settings.LLM_MODEL}"
    print(f"\nCommand: {command}")
    print(f"llm               {llm}")
    print(f"app               one daphne process (pid {daphne_pid}), LLM_MAX_TOKENS "
          f"{args.max_tokens}, rate limits raised out of the way")  # fmt: skip
    print(f"customers         {args.questions} questions each, think {args.think} s, "
          f"joining over {args.ramp:g} s, timeout {args.timeout:g} s per question")  # fmt: skip
    print(f"cpus              {os.cpu_count()}, load avg (1 min) {LOAD_AT_START:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")  # fmt: skip
    print("\n" + " ".join(f"{h:>{w}}" for h, w, _, _ in COLUMNS))
    for s in summaries:
        print(" ".join(f"{cell(s, key, fmt):>{w}}" for _, w, key, fmt in COLUMNS))
    print(
        "\nttft: send -> first token frame (app) or first content delta (direct), ms."
        + (
            f" ovh: ttft minus the synthetic server's fixed {args.ttft_ms:g} ms."
            if args.llm == "synthetic"
            else " ovh: only with --llm synthetic."
        )  # fmt: skip
        + "\nstreams: peak concurrent streams at the LLM server. CPU%: of one core, over the"
        " level (app = daphne, emb = its\nquery-embedding process, load = this script, all ="
        " the whole machine, 200 = both cores). app MB: daphne's peak RSS."
    )
    for s in summaries:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s["errors_by_kind"].items())) or "none"
        first, later = (
            "/".join("—" if v is None else f"{v:.0f}" for v in s[key])
            for key in ("ttft_ms_first", "ttft_ms_later")
        )
        print(f"{s['arm']:>6} {s['customers']:>4}: errors {kinds}")
        print(f"{'':12}ttft p50/p95: first questions {first} ms, later questions {later} ms")
        if server := s["llm_server"]:
            late = "/".join(f"{server[f'first_token_late_ms_{k}']:.1f}" for k in PCTS)
            print(f"{'':12}synthetic server's own first-token lateness p50/p95/max {late} ms")
        if stages := s.get("stages"):
            parts = [f"{k} {a:.0f}/{b:.0f}" for k, (a, b) in stages.items()]
            print(f"{'':12}stored stage timings p50/p95 ms: " + ", ".join(parts[:5]))
            print(f"{'':12}  " + ", ".join(parts[5:]))
    return command


def pick_questions() -> tuple[list[str], dict[str, list[dict]]]:
    """Answerable single-turn questions the app answers from the KB, and their prompts."""
    lines = (ROOT / "knowledge" / "eval" / "dev.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    questions, prompts = [], {}
    for e in entries:
        if not e["expected"] or e.get("previous"):
            continue
        found = retrieve(embedded=embed(query_for(question=e["question"])))
        if not found.refused:  # a refusal streams no tokens
            questions.append(e["question"])
            prompts[e["question"]] = build_messages(
                question=e["question"], chunks=found.chunks, history=[]
            )
    return questions, prompts


def start_synthetic(port: int) -> subprocess.Popen:
    log = devstack.VAR_DIR / "bench-synthetic-llm.log"
    proc = wsclient.start_synthetic(
        port, ttft_ms=args.ttft_ms, tokens_per_second=args.tokens_per_second,
        max_tokens=args.max_tokens, model=settings.LLM_MODEL, log=log,
    )  # fmt: skip
    print(log.read_text().splitlines()[0], file=sys.stderr)  # its banner
    return proc


def main() -> None:
    daphne = synthetic = None
    keys: list[str] = []
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if article_count() == 0:
            call_command("ingest_kb", str(ROOT / "knowledge" / "demo_kb"), verbosity=0)
        questions, prompts = pick_questions()
        if args.llm == "synthetic":
            llm_port = free_port()
            synthetic = start_synthetic(llm_port)
            llm_url, llm_pid = f"http://127.0.0.1:{llm_port}/v1", synthetic.pid
        else:
            llm_url, llm_pid = settings.LLM_BASE_URL, None  # a server elsewhere: no CPU figure
            if "LLM_BASE_URL" in EMBEDDED:
                state = json.loads((devstack.VAR_DIR / "llm" / "server.json").read_text())
                llm_pid = state["pid"]
        os.environ["LLM_BASE_URL"] = llm_url  # for the daphne child
        port = args.port or free_port()
        daphne = start_daphne(port)
        print(f"daphne (pid {daphne.pid}) serving on :{port}", file=sys.stderr)
        pids = {"app": daphne.pid, "llm": llm_pid}
        rows = asyncio.run(run(port, llm_url, questions, prompts, pids, keys))
        summaries = [summary(row) for row in rows]
        command = report(summaries, llm_url, daphne.pid)
        if args.json:
            print(json.dumps({"command": command, "levels": summaries}, indent=2))
    finally:
        for proc in (daphne, synthetic):
            if proc is not None:
                stop(proc)
        Conversation.objects.filter(token_hash__in=hashes(keys)).delete()  # the benchmark's own
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
