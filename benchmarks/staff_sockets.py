"""Staff sockets: how many one daphne process holds, and what a customer's message costs to
fan out to the agents.

One daphne process, fresh for each kind of staff socket, and N sockets of that kind opened
in steps (`--sockets 10,100,500,1000`), each with its own agent's admin session:

- **queue**: `/ws/agent/queue/` (tickets/consumers.QueueConsumer), all in the Channels
  group `staff.queue`;
- **ticket**: `/ws/agent/tickets/<id>/` (TicketConsumer), all on ONE ticket: each follows
  the conversation's Redis stream and looks at the customer's presence every 3 s.

At each step it reads daphne's VmRSS before and after opening the new sockets, its CPU
while they sit idle for `--idle` seconds, and then drives a real customer on the ticket (an
agent has taken it, so the bot is silent): each `message` the customer sends makes
`ticket_customer_wrote` publish `queue.changed` to every queue socket, and reaches every
ticket socket as an `asked` frame through the stream. The clock runs from the send to the
first and the LAST agent socket holding the frame. See benchmarks/README.md.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import resource
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
parser.add_argument("--sockets", default="10,100,500,1000", help="steps, comma-separated")
parser.add_argument("--kinds", default="queue,ticket", help="queue, ticket or both")
parser.add_argument("--trials", type=int, default=20, help="customer messages per step")
parser.add_argument("--idle", type=float, default=10.0, help="seconds idle per step, for CPU%%")
parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight")
parser.add_argument("--timeout", type=float, default=15.0, help="per message, seconds")
parser.add_argument("--step-budget", type=float, default=60.0,
                    help="seconds of messages per step at most (fewer trials past it)")  # fmt: skip
args = parser.parse_args()
STEPS = sorted({int(n) for n in args.sockets.split(",")})
KINDS = [k for k in ("queue", "ticket") if k in args.kinds.split(",")]
# Set before settings load, so this process and the daphne child agree: every socket comes
# from 127.0.0.1, and one customer's socket sends every message, faster than a person types.
os.environ.update(
    CHAT_SOCKET_BURST="100000",
    CHAT_SOCKET_FRAMES_PER_MINUTE="100000",
    RATELIMIT_SESSION="100000/m",
    RATELIMIT_IP="100000/m",
    RATELIMIT_PAGES="100000/m",
    CHAT_CONNECTIONS_PER_IP="100000",
)
# Each socket is a file descriptor here and in daphne (which inherits this limit).
_, HARD_FILES = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (HARD_FILES, HARD_FILES))

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# One admin login per agent: django-axes logs each at INFO, a thousand lines of noise.
logging.getLogger("axes").setLevel(logging.WARNING)
devstack.hand_over(llm=False)  # the bot is silent on a ticket an agent holds: no LLM
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks.wsclient import (  # noqa: E402
    ConnectionClosed,
    HandshakeRefused,
    WebSocket,
    free_port,
    start_daphne,
    stop,
)
from chat import streams  # noqa: E402
from chat.models import Conversation, token_hash  # noqa: E402
from chat.services import session_chat_token  # noqa: E402
from tickets.handoff import ticket_take  # noqa: E402
from tickets.models import Ticket  # noqa: E402
from tickets.services import ticket_escalate  # noqa: E402

PREFIX = "bench-staff-"
TICK = os.sysconf("SC_CLK_TCK")


# --- The process under test -----------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime; the name in field 2 may hold spaces, so split after its ')'."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- Set-up: agents and one customer whose ticket an agent holds ------------------------


def agent_sessions(n: int) -> list[str]:
    """n staff users in "Support agents" (view_ticket), each logged in as the admin's login
    would: one session, and so one socket, per agent."""
    users = get_user_model()
    users.objects.bulk_create(
        [users(username=f"{PREFIX}{i:05}", is_staff=True, password="!") for i in range(n)],
        ignore_conflicts=True,
    )
    agents = list(users.objects.filter(username__startswith=PREFIX).order_by("username")[:n])
    Group.objects.get(name="Support agents").user_set.add(*agents)
    cookies = []
    for user in agents:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        cookies.append(f"sessionid={client.cookies['sessionid'].value}")
    return cookies


def held_customer() -> tuple[str, Ticket]:
    """A customer session with an escalated ticket that an agent has taken."""
    session = SessionStore()
    session.create()
    conversation = Conversation.objects.create(token_hash=token_hash(session_chat_token(
        session=session)))  # fmt: skip
    ticket = ticket_escalate(conversation=conversation, email="")
    agent = get_user_model().objects.get(username=f"{PREFIX}00000")
    ticket_take(ticket=ticket, agent=agent)
    return session.session_key, ticket


def forget(cookies: list[str], customer_key: str | None) -> None:
    """Delete the benchmark's ticket, conversation, stream, sessions and users."""
    for cookie in cookies:
        SessionStore(session_key=cookie.split("=", 1)[1]).delete()
    conversations = Conversation.objects.filter(agent__username__startswith=PREFIX)
    hashes = list(conversations.values_list("token_hash", flat=True))
    Ticket.objects.filter(conversation__in=conversations).delete()
    conversations.delete()
    streams.forget(token_hashes=hashes)
    if customer_key:
        SessionStore(session_key=customer_key).delete()
    get_user_model().objects.filter(username__startswith=PREFIX).delete()


# --- Agents' sockets ------------------------------------------------------------------


class Agents:
    """The open staff sockets, each read by a task that notes when the awaited frame
    arrives: `queue` on a queue socket, the customer's `asked` on a ticket socket."""

    def __init__(self, port: int, path: str, kind: str) -> None:
        self.port, self.path, self.kind = port, path, kind
        self.sockets: list[WebSocket] = []
        self.readers: list[asyncio.Task] = []
        self.arrived: list[float] = []
        self.marker = ""
        self.expect = 0
        self.all_in = asyncio.Event()
        self.lost = 0  # sockets the server closed

    async def open(self, cookies: list[str]) -> tuple[list[float], str | None]:
        """Open a socket per cookie; the handshake times, and why it stopped, if it did."""
        gate = asyncio.Semaphore(args.concurrency)
        times: list[float] = []

        async def one(cookie: str) -> None:
            async with gate:
                start = time.perf_counter()
                ws = await asyncio.wait_for(WebSocket.connect(self.port, self.path, cookie), 30)
                times.append(time.perf_counter() - start)
                self.sockets.append(ws)
                self.readers.append(asyncio.create_task(self.read(ws)))

        results = await asyncio.gather(*(one(c) for c in cookies), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if not errors:
            return times, None
        kinds = {type(e).__name__ + (f" {e.status}" if isinstance(e, HandshakeRefused) else "")
                 for e in errors}  # fmt: skip
        return times, f"{len(errors)} of {len(cookies)} refused or failed: {', '.join(kinds)}"

    def wanted(self, frame: dict) -> bool:
        if self.kind == "queue":
            return frame.get("type") == "queue"
        return frame.get("type") == "asked" and frame.get("text") == self.marker

    async def read(self, ws: WebSocket) -> None:
        try:
            while True:
                frame = await ws.recv_json()
                if self.expect and self.wanted(frame):
                    self.arrived.append(time.perf_counter())
                    if len(self.arrived) == self.expect:
                        self.all_in.set()
        except (ConnectionClosed, OSError, asyncio.IncompleteReadError):
            self.lost += 1

    def expecting(self, marker: str) -> None:
        self.arrived, self.marker, self.expect = [], marker, len(self.sockets)
        self.all_in.clear()

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


async def drain(ws: WebSocket, errors: list[str], ended: asyncio.Event) -> None:
    """The customer's own frames: `done` (or an `error`: a refused message, which reaches
    no agent) ends a message, and the next waits for it, as one tab would (a message sent
    while the last is still handled is refused as `busy`)."""
    try:
        while True:
            frame = await ws.recv_json()
            if frame.get("type") == "error":
                errors.append(frame.get("code", "?"))
            if frame.get("type") in ("done", "error"):
                ended.set()
    except (ConnectionClosed, OSError, asyncio.IncompleteReadError):
        pass


async def fan_out(agents: Agents, customer: WebSocket, ended: asyncio.Event, pid: int) -> dict:
    """The customer's messages, one at a time: send → first and last agent socket."""
    first, last, short, reached = [], [], 0, []
    cpu0, own0, t0 = cpu_seconds(pid), own_cpu(), time.monotonic()
    for trial in range(args.trials):
        if trial >= 5 and time.monotonic() - t0 > args.step_budget:
            break
        marker = f"bench {agents.kind} {len(agents.sockets)} #{trial} {time.time_ns()}"
        agents.expecting(marker)
        ended.clear()
        sent = time.perf_counter()
        await customer.send_json({"type": "message", "text": marker})
        try:
            await asyncio.wait_for(agents.all_in.wait(), args.timeout)
        except TimeoutError:
            short += 1
        reached.append(len(agents.arrived) / agents.expect)
        if agents.arrived:
            first.append(min(agents.arrived) - sent)
        if agents.all_in.is_set():  # a message some socket never got is counted as short
            last.append(max(agents.arrived) - sent)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), args.timeout)
        await asyncio.sleep(0.1)  # the `done` reaches the agents too
    n = len(reached)
    elapsed = time.monotonic() - t0
    return {"messages": n, "short": short, "reached": min(reached, default=0), "first": first,
            "last": last, "cpu": (cpu_seconds(pid) - cpu0) / max(n, 1),
            "own": (own_cpu() - own0) / max(n, 1), "elapsed": elapsed}  # fmt: skip


async def step(agents: Agents, cookies: list[str], customer: tuple, pid: int) -> dict:
    rss_before = rss_mb(pid)
    start = time.perf_counter()
    handshakes, stopped = await agents.open(cookies)
    opened = time.perf_counter() - start
    await asyncio.sleep(1)  # the last joins and presence polls settle
    rss_after = rss_mb(pid)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(args.idle)
    idle = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    row = {"sockets": len(agents.sockets), "added": len(handshakes), "open_s": opened,
           "handshakes": handshakes, "rss_before": rss_before, "rss_after": rss_after,
           "idle_cpu": idle, "stopped": stopped}  # fmt: skip
    row["fan_out"] = await fan_out(agents, *customer, pid) if agents.sockets else None
    row["lost"] = agents.lost
    return row


async def run_kind(kind: str, port: int, pid: int, cookies: list[str], customer_key: str,
                   ticket_id: int) -> list[dict]:  # fmt: skip
    path = "/ws/agent/queue/" if kind == "queue" else f"/ws/agent/tickets/{ticket_id}/"
    agents = Agents(port, path, kind)
    customer = await WebSocket.connect(port, "/ws/chat/", f"sessionid={customer_key}")
    errors: list[str] = []
    ended = asyncio.Event()
    drainer = asyncio.create_task(drain(customer, errors, ended))
    rows = []
    try:
        for n in STEPS:
            have = len(agents.sockets)
            row = await step(agents, cookies[have:n], (customer, ended), pid)
            rows.append(row | {"kind": kind, "target": n, "customer_errors": errors[:]})
            errors.clear()
            print(f"  {kind} {row['sockets']}: {summary_line(row)}", file=sys.stderr)
            if row["stopped"]:
                break
    finally:
        drainer.cancel()
        await agents.close()
        await customer.close()
    return rows


# --- Reporting ----------------------------------------------------------------------------


def pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def summary_line(row: dict) -> str:
    f = row["fan_out"] or {"last": []}
    return (f"RSS {row['rss_after']:.0f} MB, idle CPU {row['idle_cpu'] * 100:.1f}%, last "
            f"p50 {pct(f['last'], 50) * 1000:.1f} ms")  # fmt: skip


def header(pids: dict[str, int], started: float) -> None:
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    print(f"\nCommand: {prefix}{shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}")
    daphnes = ", ".join(f"{kind} pid {pid}" for kind, pid in pids.items())
    layer = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    print(
        f"app               1 daphne process per kind ({daphnes}), one agent session per "
        f"socket, {args.concurrency} handshakes in flight\n"
        f"channel layer     capacity {layer.get('capacity', 100)} (default), "
        f"max_connections {layer['hosts'][0].get('max_connections')}\n"
        f"cpus              {os.cpu_count()}, load avg (1 min) {LOAD_AT_START:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end; {time.monotonic() - started:.0f} s in all",
    )  # fmt: skip


def held_table(rows: list[dict]) -> None:
    print("\nStaff sockets held by one daphne process (one run)")
    print(f"{'kind':7}{'sockets':>8}{'open s':>8}{'hs p50':>8}{'hs p95':>8}{'RSS MB':>13}"
          f"{'KB/socket':>10}{'idle CPU%':>10}")  # fmt: skip
    for r in rows:
        per = (r["rss_after"] - r["rss_before"]) * 1024 / r["added"] if r["added"] else 0
        hs = [t * 1000 for t in r["handshakes"]] or [float("nan")]
        print(f"{r['kind']:7}{r['sockets']:>8}{r['open_s']:>8.1f}{pct(hs, 50):>8.1f}"
              f"{pct(hs, 95):>8.1f}{r['rss_before']:>6.0f}→{r['rss_after']:<6.0f}{per:>10.1f}"
              f"{r['idle_cpu'] * 100:>10.1f}")  # fmt: skip


def fan_out_table(rows: list[dict]) -> None:
    print("\nOne customer message fanned out to every agent socket (send → frame held)")
    print(f"{'kind':7}{'sockets':>8}{'msgs':>6}{'first p50':>10}{'last p50':>10}{'last p95':>10}"
          f"{'last max':>10}{'short':>6}{'daphne CPU ms':>14}{'less idle':>10}"
          f"{'client CPU ms':>14}")  # fmt: skip
    for r in (r for r in rows if r["fan_out"]):
        f = r["fan_out"]
        ms = {k: [v * 1000 for v in f[k]] or [float("nan")] for k in ("first", "last")}
        # Less what the idle sockets would have cost over the same time (presence polls).
        net = f["cpu"] - r["idle_cpu"] * f["elapsed"] / max(f["messages"], 1)
        print(f"{r['kind']:7}{r['sockets']:>8}{f['messages']:>6}{pct(ms['first'], 50):>10.1f}"
              f"{pct(ms['last'], 50):>10.1f}{pct(ms['last'], 95):>10.1f}{max(ms['last']):>10.1f}"
              f"{f['short']:>6}{f['cpu'] * 1000:>14.1f}{net * 1000:>10.1f}"
              f"{f['own'] * 1000:>14.1f}")  # fmt: skip


def notes(rows: list[dict]) -> None:
    """What cut a step short: refused sockets, the customer's refused messages, misses."""
    for r in rows:
        where = f"{r['kind']} at {r['sockets']}"
        if r["stopped"] or r["lost"]:
            print(f"{where}: stopped: {r['stopped']}; closed by the server: {r['lost']}")
        if r["customer_errors"]:
            errors = r["customer_errors"]
            print(
                f"{where}: the customer's socket got errors {sorted(set(errors))} ({len(errors)})"
            )
        if r["fan_out"] and r["fan_out"]["short"]:
            f = r["fan_out"]
            print(f"{where}: {f['short']} messages did not reach every socket within "
                  f"{args.timeout:g} s; the worst reached {f['reached']:.0%}")  # fmt: skip


def main() -> None:
    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    cookies, customer_key, rows, pids = [], None, [], {}
    try:
        cookies = agent_sessions(max(STEPS))
        customer_key, ticket = held_customer()
        for kind in KINDS:
            port = free_port()
            daphne = start_daphne(port)
            pids[kind] = daphne.pid
            print(f"{kind}: daphne :{port} pid {daphne.pid}", file=sys.stderr)
            try:
                rows += asyncio.run(
                    run_kind(kind, port, daphne.pid, cookies, customer_key, ticket.pk)
                )
            finally:
                stop(daphne)
        header(pids, started)
        held_table(rows)
        fan_out_table(rows)
        notes(rows)
    finally:
        forget(cookies, customer_key)
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
