"""The dashboard's figures for a known set of conversations, built with explicit times and
rolled up at a fixed clock (insights/rollup.py, insights/selectors.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings as django_settings

from chat.models import Conversation, Message
from insights.models import Outcome
from insights.rollup import outcomes_roll_up
from insights.selectors import dashboard
from insights.tasks import rollup_outcomes
from knowledge.models import Article, Collection
from tickets.models import Ticket

R = Outcome.Resolution
# Sunday 15 March 2026, 20:00 UTC: every window is closed but the last conversation's.
NOW = datetime(2026, 3, 15, 20, 0, tzinfo=UTC)
MONDAY, SUNDAY = date(2026, 3, 2), date(2026, 3, 15)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def source(slug: str, title: str = "") -> dict:
    return {"slug": slug, "title": title or slug, "url": f"/kb/{slug}/", "section": ""}


def conversation(at: datetime, *answer_marks: dict, question: dict | None = None):
    """One question at `at` and a bot reply a minute later per mark; times are set after
    creation because created_at and updated_at are automatic."""
    chat = Conversation.objects.create()
    when = at
    for marks in answer_marks:
        asked = Message.objects.create(
            conversation=chat, role="user", text="How do I reset my password?", **(question or {})
        )
        answer = Message.objects.create(conversation=chat, role="assistant", text="Do X.", **marks)
        Message.objects.filter(pk=asked.pk).update(created_at=when)
        Message.objects.filter(pk=answer.pk).update(created_at=when + timedelta(minutes=1))
        when += timedelta(minutes=2)
    Conversation.objects.filter(pk=chat.pk).update(created_at=at, updated_at=when)
    return chat


def escalate(chat: Conversation, csat: int | None) -> None:
    ticket = Ticket.objects.create(conversation=chat, csat_score=csat)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=NOW - timedelta(days=5), updated_at=NOW)


@pytest.fixture
def known_set(db, settings):
    """Eight conversations over two ISO weeks in Berlin time, and one the week before."""
    settings.TIME_ZONE = "Europe/Berlin"
    Article.objects.create(slug="reset", title="Resetting your password")
    Article.objects.create(slug="billing", title="Billing and invoices")
    ttft = lambda ms: {"timings": {"llm_ttft": ms, "first_token_out": ms + 5}}  # noqa: E731
    # Week of Monday 2 March.
    conversation(utc(2, 9), {"sources": [source("reset")], "feedback": "up", **ttft(100)})
    conversation(
        utc(2, 10), {"sources": [source("reset"), source("billing"), source("gone", "Old page")],
                     **ttft(200)},
    )  # fmt: skip
    conversation(utc(2, 23, 30), {"refused": True})  # 00:30 on Tuesday in Berlin
    conversation(utc(3, 9), {"refused": True}, question={"screened": "override"})
    conversation(utc(4, 9), {"fallback": True, "sources": [source("billing")]})
    # Week of Monday 9 March.
    escalate(
        conversation(utc(10, 9), {"sources": [source("billing")], "feedback": "down", **ttft(400)}),
        csat=4,
    )
    escalate(conversation(utc(11, 9), {"sources": [source("reset")], **ttft(500)}), csat=2)
    conversation(utc(15, 10), ttft(600))  # its window is still open at NOW
    # Sunday 1 March: before the range.
    conversation(utc(1, 12), {"sources": [source("old")], **ttft(10_000)})
    outcomes_roll_up(now=NOW)


def test_each_day_has_its_figures_and_empty_days_are_included(known_set):
    days = dashboard(start=MONDAY, end=SUNDAY, by="day").periods
    assert [d.start for d in days] == [MONDAY + timedelta(days=n) for n in range(14)]
    monday, tuesday, wednesday = days[0], days[1], days[2]
    assert (monday.conversations, monday.questions, monday.answered) == (2, 2, 2)
    assert (monday.confirmed, monday.assumed, monday.thumbs_up) == (1, 1, 1)
    assert (monday.ttft_p50_ms, monday.ttft_p95_ms) == (150, 195)
    assert (tuesday.conversations, tuesday.refused, tuesday.injection) == (2, 1, 1)
    assert (tuesday.answered, tuesday.unresolved, tuesday.ttft_p50_ms) == (0, 2, None)
    assert (wednesday.fallback, wednesday.unresolved) == (1, 1)
    assert [d.conversations for d in days[3:]] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1]
    assert days[8].escalations == 1 and days[8].csat_average == 4.0
    assert days[13].pending == 1 and days[13].resolution_rate is None


def test_each_iso_week_has_its_figures(known_set):
    first, second = dashboard(start=MONDAY, end=SUNDAY, by="week").periods
    assert (first.start, second.start) == (MONDAY, date(2026, 3, 9))
    assert (first.conversations, first.confirmed, first.assumed, first.unresolved) == (5, 1, 1, 3)
    assert (first.refused, first.fallback, first.injection, first.escalations) == (1, 1, 1, 0)
    assert (first.ttft_p50_ms, first.ttft_p95_ms) == (150, 195)
    assert (second.conversations, second.escalations, second.pending) == (3, 2, 1)
    assert (second.csat_average, second.csat_count) == (3.0, 2)
    assert second.ttft_p50_ms == 500 and second.ttft_p95_ms == pytest.approx(590)


def test_a_week_that_starts_before_the_range_is_shown_from_its_monday(known_set):
    weeks = dashboard(start=date(2026, 3, 4), end=date(2026, 3, 10), by="week").periods
    assert [w.start for w in weeks] == [MONDAY, date(2026, 3, 9)]
    assert [w.conversations for w in weeks] == [1, 1]  # from Wednesday 4 March only


def test_the_totals_give_the_rates(known_set):
    totals = dashboard(start=MONDAY, end=SUNDAY).totals
    assert (totals.conversations, totals.questions, totals.answered) == (8, 8, 5)
    assert (totals.confirmed, totals.assumed, totals.unresolved, totals.pending) == (1, 1, 5, 1)
    assert totals.resolution_rate == pytest.approx(2 / 7)
    assert totals.confirmed_rate == pytest.approx(1 / 7)
    assert totals.deflection_rate == 6 / 8 and totals.escalation_rate == 2 / 8
    assert totals.thumbs_up_ratio == 0.5
    assert (totals.csat_average, totals.csat_count) == (3.0, 2)
    assert totals.ttft_p50_ms == 400 and totals.ttft_p95_ms == pytest.approx(580)


def test_the_cited_articles_are_counted_from_answers_in_the_range(known_set):
    figures = dashboard(start=MONDAY, end=SUNDAY, limit=10)
    # The fallback's sources and the answer of 1 March are not counted.
    assert [(a.slug, a.title, a.count) for a in figures.most_cited] == [
        ("reset", "Resetting your password", 3),
        ("billing", "Billing and invoices", 2),
        ("gone", "Old page", 1),  # deleted since: the title the answer showed
    ]
    assert [(a.slug, a.count) for a in figures.cited_in_thumbs_down] == [("billing", 1)]
    assert [a.slug for a in dashboard(start=MONDAY, end=SUNDAY, limit=1).most_cited] == ["reset"]


def test_an_unknown_period_is_refused(db):
    with pytest.raises(ValueError):
        dashboard(start=MONDAY, end=SUNDAY, by="month")


def _conversations(count: int) -> None:
    for n in range(count):
        at = utc(2 + n % 14, 9)
        chat = conversation(
            at, {"sources": [source(f"a{n % 7}")], "feedback": "down", "timings": {"llm_ttft": n}}
        )
        if n % 3 == 0:
            escalate(chat, csat=n % 5 + 1)


@pytest.mark.parametrize("count", [10, 100])
def test_the_dashboard_runs_three_queries_whatever_the_volume(db, count, django_assert_num_queries):
    _conversations(count)
    outcomes_roll_up(now=NOW)
    with django_assert_num_queries(3):
        figures = dashboard(start=MONDAY, end=SUNDAY, by="week")
    assert figures.totals.conversations == count


@pytest.mark.parametrize("count", [10, 100])
def test_the_rollup_reads_in_a_constant_number_of_queries(db, count, django_assert_num_queries):
    _conversations(count)
    # Finding the stale ones and the last pass (for articles changed since), then messages,
    # the cited articles' collections, tickets and outcomes, and one upsert.
    with django_assert_num_queries(7):
        assert outcomes_roll_up(now=NOW) == count


# --- A KB collection --------------------------------------------------------------------


@pytest.fixture
def two_collections(known_set):
    """The known set with "reset" filed in Accounts and "billing" in Billing, rolled up
    again a minute later: each conversation then cited Accounts, Billing, both or none."""
    accounts = Collection.objects.create(name="Accounts", slug="accounts")
    billing = Collection.objects.create(name="Billing", slug="billing")
    Article.objects.filter(slug="reset").update(collection=accounts)
    Article.objects.filter(slug="billing").update(collection=billing)
    outcomes_roll_up(now=NOW + timedelta(minutes=1))
    return accounts.pk, billing.pk


def test_an_outcome_whose_collections_changed_is_rewritten(two_collections):
    accounts, billing = two_collections
    filed = Outcome.objects.order_by("started_on", "conversation__created_at")
    # Only answers count: the fallback that listed "billing" (4 March) cited nothing.
    assert [o.collections for o in filed] == [
        [], [accounts], [accounts, billing], [], [], [], [billing], [accounts], [],
    ]  # fmt: skip
    assert {o.computed_at for o in filed if o.collections} == {NOW + timedelta(minutes=1)}


def test_a_collection_shows_only_the_conversations_that_cited_its_articles(two_collections):
    accounts, billing = two_collections

    a = dashboard(start=MONDAY, end=SUNDAY, collection=accounts)
    b = dashboard(start=MONDAY, end=SUNDAY, collection=billing)

    assert (a.totals.conversations, a.totals.escalations, a.totals.confirmed) == (3, 1, 1)
    assert [d.conversations for d in a.periods if d.conversations] == [2, 1]
    # Every answer of those conversations: 100, 200 and 500 ms.
    assert a.totals.ttft_p50_ms == 200 and a.totals.ttft_p95_ms == pytest.approx(470)
    assert [(x.slug, x.count) for x in a.most_cited] == [("reset", 3)]
    assert a.cited_in_thumbs_down == []
    assert (b.totals.conversations, b.totals.escalations, b.totals.csat_average) == (2, 1, 4.0)
    assert b.totals.ttft_p50_ms == 300 and b.totals.ttft_p95_ms == pytest.approx(390)
    assert [(x.slug, x.count) for x in b.most_cited] == [("billing", 2)]
    assert [(x.slug, x.count) for x in b.cited_in_thumbs_down] == [("billing", 1)]


def test_without_a_collection_the_figures_are_those_of_every_conversation(two_collections):
    totals = dashboard(start=MONDAY, end=SUNDAY).totals
    assert (totals.conversations, totals.ttft_p50_ms) == (8, 400)
    assert dashboard(start=MONDAY, end=SUNDAY, collection=0).totals.conversations == 0


def test_sources_of_an_unexpected_shape_file_nothing(db):
    accounts = Collection.objects.create(name="Accounts", slug="accounts")
    Article.objects.create(slug="reset", title="Reset", collection=accounts)
    conversation(utc(2, 9), {"sources": {"slug": "reset"}}, {"sources": ["reset", {"x": 1}]})
    conversation(utc(2, 10), {"sources": [source("reset"), source("unfiled")]})

    outcomes_roll_up(now=NOW)

    assert list(
        Outcome.objects.order_by("started_on", "pk").values_list("collections", flat=True)
    ) == [[], [accounts.pk]]


@pytest.mark.parametrize("count", [10, 100])
def test_a_collections_figures_take_three_queries_whatever_the_volume(
    db, count, django_assert_num_queries
):
    filed = Collection.objects.create(name="Filed", slug="filed")
    for n in range(7):
        Article.objects.create(slug=f"a{n}", title=f"A{n}", collection=filed if n < 3 else None)
    _conversations(count)
    outcomes_roll_up(now=NOW)
    with django_assert_num_queries(3):
        figures = dashboard(start=MONDAY, end=SUNDAY, by="week", collection=filed.pk)
    # Conversations n with n % 7 < 3 cited a0, a1 or a2.
    assert figures.totals.conversations == sum(n % 7 < 3 for n in range(count))
    assert {a.slug for a in figures.most_cited} == {"a0", "a1", "a2"}


# --- The rollup over time ------------------------------------------------------------------


def _settled(hours_ago: float = 48) -> Conversation:
    chat = conversation(NOW - timedelta(hours=hours_ago), {"timings": {"llm_ttft": 1}})
    Conversation.objects.filter(pk=chat.pk).update(updated_at=NOW - timedelta(hours=hours_ago))
    return chat


def test_running_it_twice_writes_the_same_rows(db):
    _settled()
    conversation(NOW - timedelta(hours=1), {})
    outcomes_roll_up(now=NOW)
    first = list(Outcome.objects.order_by("pk").values())
    outcomes_roll_up(now=NOW)
    assert list(Outcome.objects.order_by("pk").values()) == first
    assert [o["resolution"] for o in first] == [R.ASSUMED, R.PENDING]


def test_a_thumb_given_after_the_rollup_is_counted_on_the_next_run(db):
    chat = _settled()
    outcomes_roll_up(now=NOW)
    # Feedback is written with update(): no timestamp moves.
    Message.objects.filter(conversation=chat, role="assistant").update(feedback="up")
    outcomes_roll_up(now=NOW + timedelta(minutes=15))
    assert Outcome.objects.get().resolution == R.CONFIRMED


def test_a_settled_outcome_is_left_alone_a_day_later(db):
    _settled()
    assert outcomes_roll_up(now=NOW) == 1
    assert outcomes_roll_up(now=NOW + timedelta(minutes=15)) == 0  # read, unchanged
    assert outcomes_roll_up(now=NOW + timedelta(hours=26)) == 0  # not even read


def test_a_pending_outcome_is_decided_when_its_window_closes(db):
    conversation(NOW - timedelta(hours=1), {})
    outcomes_roll_up(now=NOW)
    assert Outcome.objects.get().resolution == R.PENDING
    outcomes_roll_up(now=NOW + timedelta(hours=24))
    outcome = Outcome.objects.get()
    assert (outcome.resolution, outcome.computed_at) == (R.ASSUMED, NOW + timedelta(hours=24))


def test_filing_an_article_in_a_collection_refiles_the_settled_conversations_citing_it(db):
    reset = Article.objects.create(slug="reset", title="Resetting your password")
    Article.objects.filter(pk=reset.pk).update(updated_at=NOW - timedelta(days=3))
    citing = conversation(NOW - timedelta(hours=48), {"sources": [source("reset")]})
    Conversation.objects.filter(pk=citing.pk).update(updated_at=NOW - timedelta(hours=48))
    _settled()  # cites nothing
    outcomes_roll_up(now=NOW)

    reset.collection = Collection.objects.create(name="Accounts", slug="accounts")
    reset.save()  # an editor files it: updated_at moves (the real clock, after NOW)

    assert outcomes_roll_up(now=NOW + timedelta(hours=26)) == 1  # the one citing it
    assert Outcome.objects.get(conversation=citing).collections == [reset.collection_id]


def test_a_ticket_opened_long_after_is_seen(db):
    chat = _settled(hours_ago=24 * 10)
    outcomes_roll_up(now=NOW - timedelta(days=5))
    Ticket.objects.create(conversation=chat)  # updated_at: the real clock, after computed_at
    outcomes_roll_up(now=NOW)
    outcome = Outcome.objects.get()
    assert (outcome.escalated, outcome.resolution) == (True, R.UNRESOLVED)


def test_the_task_recomputes_one_conversation_by_its_id(db):
    chat = _settled()
    assert rollup_outcomes(chat.pk) == 1
    assert rollup_outcomes() == 0  # just computed, and nothing changed
    assert Outcome.objects.get().conversation_id == chat.pk


def test_beat_runs_the_rollup_on_a_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["roll-up-outcomes"]
    assert entry["task"] == rollup_outcomes.name
