"""Rate-limit accuracy across two daphne processes.

One session sends questions to two daphne processes that share one Redis: first one at a
time, alternating between the processes, then all at once from many sockets on both. The
count lives in Redis, so exactly RATELIMIT_SESSION's limit should be let through. See
benchmarks/README.md.
"""

import argparse
import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line
if VAR_AS_GIVEN:  # absolute, so the daphne children (cwd=ROOT) find the same services
    os.environ["HELPDESK_VAR_DIR"] = str(Path(VAR_AS_GIVEN).resolve())

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rate", default="5/h", help="RATELIMIT_SESSION for the run (default 5/h)")
parser.add_argument("--messages", type=int, default=20, help="questions in the alternating run")
parser.add_argument("--sockets", type=int, default=10, help="sockets per process in the burst")
args = parser.parse_args()
# Set before settings load, so this process and both daphne children agree.
os.environ["RATELIMIT_SESSION"] = args.rate
os.environ["RATELIMIT_IP"] = "100000/h"  # every socket comes from 127.0.0.1: count sessions only

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (no LLM started here) for what the environment leaves unset, started
# (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=False)
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django_ratelimit.core import _get_window, _split_rate  # noqa: E402

from benchmarks.wsclient import WebSocket  # noqa: E402
from chat.models import Conversation, token_hash  # noqa: E402
from chat.services import session_chat_token  # noqa: E402
from helpdesk.management.commands.run import daphne_command  # noqa: E402

LIMIT, PERIOD = _split_rate(args.rate)
BENCH_USER = "ratelimit-bench"


def agent_session() -> str:
    """A session whose conversation an agent has taken over: the bot is silent there, so
    an allowed question is answered at once with `done` (message_id null) and no LLM call,
    and a refused one with the `rate_limited` error. Only the counting is measured."""
    session = SessionStore()
    session.create()
    agent, _ = get_user_model().objects.get_or_create(username=BENCH_USER)
    token = session_chat_token(session=session)
    Conversation.objects.create(token_hash=token_hash(token), agent=agent)
    return session.session_key


async def ask(ws: WebSocket) -> str:
    await ws.send_json({"type": "message", "text": "Is anybody there?"})
    while True:
        reply = await ws.recv_json()
        if reply["type"] == "done":
            return "allowed"
        if reply["type"] == "error":
            return reply["code"]


async def alternating(ports: list[int], key: str) -> list[tuple[int, str]]:
    sockets = [await WebSocket.connect(port, "/ws/chat/", f"sessionid={key}") for port in ports]
    outcomes = []
    for i in range(args.messages):
        outcomes.append((ports[i % 2], await ask(sockets[i % 2])))
    for ws in sockets:
        await ws.close()
    return outcomes


async def burst(ports: list[int], key: str) -> list[tuple[int, str]]:
    targets = [port for port in ports for _ in range(args.sockets)]
    sockets = [await WebSocket.connect(port, "/ws/chat/", f"sessionid={key}") for port in targets]
    # Every socket's question in flight at once, on both processes.
    results = await asyncio.gather(*(ask(ws) for ws in sockets))
    for ws in sockets:
        await ws.close()
    return list(zip(targets, results, strict=True))


def start_daphne(port: int, log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:  # the child keeps its own copy of the handle
        proc = subprocess.Popen(
            # helpdesk.asgi, not serve: the bot never answers here, no model to warm up.
            daphne_command("127.0.0.1", port, app="helpdesk.asgi:application"),
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/kb/", timeout=5)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"daphne did not start serving; see {log}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(name: str, outcomes: list, rolled: bool, seconds: float, ports: list[int]) -> bool:
    allowed = [port for port, outcome in outcomes if outcome == "allowed"]
    refused = [outcome for _, outcome in outcomes if outcome == "rate_limited"]
    other = len(outcomes) - len(allowed) - len(refused)
    per_process = ", ".join(f":{p} {allowed.count(p)}" for p in ports)
    exact = len(allowed) == min(LIMIT, len(outcomes)) and not other
    print(
        f"{name:12} {len(outcomes):>5} {len(allowed):>8} {len(refused):>8} {other:>6}"
        f" {LIMIT:>6}  {per_process:24} {seconds * 1000:>7.0f} ms"
        f"  {'yes' if rolled else 'no':>7}  {'EXACT' if exact else 'OFF'}"
    )
    return exact


async def measure(ports: list[int], sessions: list[str]) -> bool:
    print(f"{'run':12} {'sent':>5} {'allowed':>8} {'refused':>8} {'other':>6} {'limit':>6}"
          f"  {'allowed per process':24} {'time':>10}  {'rolled':>7}")  # fmt: skip
    ok = True
    for (name, phase), key in zip(
        (("alternating", alternating), ("burst", burst)), sessions, strict=True
    ):
        # A fixed window that ended mid-run would rightly let more through: it is shown.
        window = _get_window(key, PERIOD)
        start = time.perf_counter()
        outcomes = await phase(ports, key)
        seconds = time.perf_counter() - start
        ok &= report(name, outcomes, _get_window(key, PERIOD) != window, seconds, ports)
    return ok


def main() -> None:
    children: list[subprocess.Popen] = []
    try:
        call_command("migrate", interactive=False, verbosity=0)
        ports = [free_port(), free_port()]
        log = devstack.VAR_DIR / "bench-ratelimit-daphne.log"
        children = [start_daphne(port, log) for port in ports]
        prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
        command = prefix + shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
        print(f"Command: {command}")
        print(f"RATELIMIT_SESSION={args.rate}: {LIMIT} questions per {PERIOD} s per session")
        print(f"two daphne processes (pids {', '.join(str(c.pid) for c in children)}), "
              f"one Redis: {settings.REDIS_URL}\n")  # fmt: skip
        sessions = [agent_session(), agent_session()]  # a fresh count for each run
        ok = asyncio.run(measure(ports, sessions))
        print(
            f"\nrate-limit accuracy across two daphne processes: {'exact' if ok else 'NOT exact'}"
        )
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        Conversation.objects.filter(agent__username=BENCH_USER).delete()
        get_user_model().objects.filter(username=BENCH_USER).delete()
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
