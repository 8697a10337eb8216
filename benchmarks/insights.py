"""The insights pages at volume: the dashboard and the content-gap pages with 100,000 stored
messages, their response time and query count, and the rollup that feeds the dashboard.

A database of its own (`helpdesk_bench_insights`, kept between runs) holds synthetic
conversations spread over 90 days: answers, refusals, fallbacks, injection refusals,
thumbs, tickets with ratings, cited articles, and content gaps with their questions. Pages
are fetched through Django's test client as a superuser. See benchmarks/README.md.
"""

import argparse
import os
import random
import shlex
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")
LOAD_AT_START = os.getloadavg()[0]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--messages", type=int, default=100_000, help="messages to store")
parser.add_argument("--rounds", type=int, default=20, help="timed fetches of each page")
parser.add_argument("--gaps", type=int, default=60, help="content gaps")
parser.add_argument("--rebuild", action="store_true", help="reload even if the data is cached")
args = parser.parse_args()

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

devstack.hand_over(llm=False)
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks.benchdb import describe, description, use_database  # noqa: E402
from chat.models import Conversation, Message  # noqa: E402
from insights.models import ContentGap, GapQuestion, Outcome  # noqa: E402
from insights.rollup import outcomes_roll_up  # noqa: E402
from knowledge.models import Article  # noqa: E402
from tickets.models import Ticket  # noqa: E402

DAYS = 90
QUESTIONS = ["How do I reset my password?", "Can I export my tasks to CSV?",
             "Why was I charged twice?", "How do I invite a teammate?",
             "Does the API support webhooks?", "Where is the dark mode setting?"]  # fmt: skip


def unfreeze_times() -> None:
    # Only here: the rows are history, so their times are given, not "now".
    for model in (Conversation, Message, Ticket):
        for name in ("created_at", "updated_at"):
            try:
                model._meta.get_field(name).auto_now_add = False
                model._meta.get_field(name).auto_now = False
            except Exception:
                pass


def load(n_messages: int, n_gaps: int, rng: random.Random) -> None:
    unfreeze_times()
    now = timezone.now()
    articles = [Article(title=f"Article {i}", slug=f"article-{i}", body="x", status="ready")
                for i in range(30)]  # fmt: skip
    Article.objects.bulk_create(articles)
    n_conversations = n_messages // 4
    starts = [now - timedelta(seconds=rng.randrange(DAYS * 86400)) for _ in range(n_conversations)]
    conversations = Conversation.objects.bulk_create(
        [Conversation(created_at=t, updated_at=t) for t in starts], batch_size=5000
    )
    messages, tickets = [], []
    for conversation, start in zip(conversations, starts, strict=True):
        messages += _turns(conversation, start, articles, rng)
        if rng.random() < 0.08:
            tickets.append(_ticket(conversation, start, rng))
    Message.objects.bulk_create(messages, batch_size=5000)
    Ticket.objects.bulk_create(tickets, batch_size=5000)
    _gaps(n_gaps, rng)


def _turns(conversation, start, articles, rng) -> list[Message]:
    turns = []
    for i in range(2):
        at = start + timedelta(minutes=3 * i)
        kind = rng.random()
        turns.append(Message(
            conversation=conversation, role="user", text=rng.choice(QUESTIONS),
            screened="override" if kind < 0.01 else "", created_at=at,
        ))  # fmt: skip
        source = rng.choice(articles)
        turns.append(Message(
            conversation=conversation, role="assistant", text="An answer.",
            refused=0.01 <= kind < 0.09, fallback=0.09 <= kind < 0.11,
            sources=[{"slug": source.slug, "title": source.title, "url": "/kb/x/"}],
            feedback=rng.choice(["", "", "", "up", "down"]),
            timings={"llm_ttft": round(rng.uniform(80, 600), 1)},
            created_at=at + timedelta(seconds=5),
        ))  # fmt: skip
    return turns


def _ticket(conversation, start, rng) -> Ticket:
    rated = rng.random() < 0.5
    return Ticket(conversation=conversation, subject="Help", created_at=start,
                  updated_at=start, status="resolved" if rated else "open",
                  csat_score=rng.randint(1, 5) if rated else None,
                  csat_at=start if rated else None)  # fmt: skip


def _gaps(n_gaps: int, rng: random.Random) -> None:
    gaps = ContentGap.objects.bulk_create(
        [ContentGap(label=f"Topic {i}: how do I do thing {i}?") for i in range(n_gaps)]
    )
    questions = list(
        Message.objects.filter(role="user")
        .order_by("?")
        .values_list("pk", "created_at")[: n_gaps * 20]
    )
    GapQuestion.objects.bulk_create(
        [
            GapQuestion(
                gap=rng.choice(gaps),
                message_id=pk,
                text="A redacted question",
                reason="refused",
                asked_at=at,
            )
            for pk, at in questions
        ],  # fmt: skip
        batch_size=5000,
    )


def timed(client: Client, url: str, rounds: int) -> tuple[list[float], int, int]:
    client.get(url)  # warm: the session, content types, templates
    times = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times, len(queries), len(response.content)


def main() -> None:
    rng = random.Random(17)
    use_database("helpdesk_bench_insights")
    marker = f"insights {args.messages} messages {args.gaps} gaps v1"
    if args.rebuild or description() != marker:
        with connection.cursor() as cursor:
            for table in ("insights_gapquestion", "insights_contentgap", "insights_outcome",
                          "tickets_ticket", "chat_message", "chat_conversation"):  # fmt: skip
                cursor.execute(f"TRUNCATE {table} CASCADE")
        Article.objects.filter(slug__startswith="article-").delete()
        started = time.perf_counter()
        with transaction.atomic():
            load(args.messages, args.gaps, rng)
        print(f"loaded {Message.objects.count()} messages in {time.perf_counter() - started:.1f} s")
        describe(marker)
    Outcome.objects.all().delete()  # the first rollup below is a first one each run
    rollups = []
    for label in ("first (every conversation)", "again at once"):
        started = time.perf_counter()
        written = outcomes_roll_up()
        rollups.append((label, (time.perf_counter() - started) * 1000, written))
    admin = get_user_model().objects.filter(username="bench-admin").first()
    admin = admin or get_user_model().objects.create_superuser("bench-admin", "a@example.com", "x")
    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as a browser's would be
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    today = timezone.localdate()
    gap = ContentGap.objects.order_by("pk").first()
    month, quarter = today - timedelta(days=29), today - timedelta(days=89)
    dashboard = "/admin/insights/dashboard/"
    pages = [
        ("dashboard, 30 days by day", f"{dashboard}?start={month}&end={today}&by=day"),
        ("dashboard, 90 days by week", f"{dashboard}?start={quarter}&end={today}&by=week"),
        ("dashboard CSV (periods)",
         f"/admin/insights/dashboard.csv?table=periods&start={quarter}&end={today}&by=day"),
        ("content gaps list", "/admin/insights/contentgap/"),
        ("one content gap", f"/admin/insights/contentgap/{gap.pk}/change/"),
    ]  # fmt: skip
    report(rollups, [(name, *timed(client, url, args.rounds)) for name, url in pages])


def report(rollups, rows) -> None:
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    print(f"\nCommand: {prefix}.venv/bin/python benchmarks/insights.py " + shlex.join(sys.argv[1:]))
    print(f"data     {Message.objects.count()} messages, {Conversation.objects.count()} "
          f"conversations, {Ticket.objects.count()} tickets, {GapQuestion.objects.count()} gap "
          f"questions in {ContentGap.objects.count()} gaps, over {DAYS} days")  # fmt: skip
    print(
        f"machine  {os.cpu_count()} cpus, load avg {LOAD_AT_START:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end"
    )
    print("\nRollup (insights.rollup.outcomes_roll_up)")
    for label, ms, written in rollups:
        print(f"  {label:<28} {ms:9.0f} ms  {written} outcomes written")
    print(f"\nPages, {args.rounds} fetches each (one run)")
    print(f"  {'page':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8} {'KB':>6}")
    for name, times, queries, size in rows:
        times = sorted(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"  {name:<30} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f} "
              f"{queries:8d} {size / 1024:6.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
