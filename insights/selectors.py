"""Reads for the insights dashboard (insights/admin_views.py). CONTRACT: the dashboard page
is built against these signatures and reads only the dataclasses' attributes and properties.

Three queries whatever the volume: the Outcome rollup summed per period, the time to first
token's percentiles (per period and overall, one query with ROLLUP), and the cited articles.
Conversations are counted on the day their first message came (Outcome.started_on); times
to first token and citations are of the answers given in the range.

With a KB collection, the same three queries read only the conversations whose answers
cited its articles (Outcome.collections): their figures, the time to first token of every
answer in them (the latency of those conversations, whichever article each answer drew
on), and of the cited articles only those in the collection.

With a site (widget.Site), only the conversations that came from it, or with SUPPORT_PAGE
only those with no site (the desk's own support page): read through Conversation.site,
not a copy on Outcome, so a site set on a conversation later, or deleted (SET_NULL), is
seen at once and the rollup knows nothing of sites. Both filters combine."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncWeek

from chat.models import Conversation, Message
from insights.models import Outcome
from knowledge.models import Article


@dataclass
class Figures:
    """One period's figures (a day or a week), or the whole range's."""

    start: date
    conversations: int = 0
    questions: int = 0
    answered: int = 0
    refused: int = 0
    fallback: int = 0
    injection: int = 0
    escalations: int = 0
    confirmed: int = 0
    assumed: int = 0
    unresolved: int = 0
    pending: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    csat_average: float | None = None
    csat_count: int = 0
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None

    @property
    def decided(self) -> int:
        return self.confirmed + self.assumed + self.unresolved

    @property
    def resolution_rate(self) -> float | None:
        """(confirmed + assumed) / decided; None when nothing is decided yet."""
        return (self.confirmed + self.assumed) / self.decided if self.decided else None

    @property
    def confirmed_rate(self) -> float | None:
        return self.confirmed / self.decided if self.decided else None

    @property
    def assumed_rate(self) -> float | None:
        return self.assumed / self.decided if self.decided else None

    @property
    def deflection_rate(self) -> float | None:
        """Conversations that never became tickets."""
        if not self.conversations:
            return None
        return (self.conversations - self.escalations) / self.conversations

    @property
    def escalation_rate(self) -> float | None:
        return self.escalations / self.conversations if self.conversations else None

    @property
    def thumbs_up_ratio(self) -> float | None:
        thumbs = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / thumbs if thumbs else None


@dataclass
class CitedArticle:
    title: str
    slug: str
    count: int


@dataclass
class Dashboard:
    start: date
    end: date  # inclusive
    by: str  # "day" or "week"
    periods: list[Figures] = field(default_factory=list)  # oldest first, empty ones included
    totals: Figures | None = None
    most_cited: list[CitedArticle] = field(default_factory=list)
    cited_in_thumbs_down: list[CitedArticle] = field(default_factory=list)


PERIODS = ("day", "week")
# The Outcome columns each period sums.
SUMMED = ["questions", "answered", "refused", "fallback", "injection", "thumbs_up", "thumbs_down"]
RESOLUTIONS = [r.value for r in Outcome.Resolution]
# dashboard(site=SUPPORT_PAGE): the conversations of no site. No Site has the id 0.
SUPPORT_PAGE = 0


def dashboard(
    *,
    start: date,
    end: date,
    by: str = "day",
    limit: int = 10,
    collection: int | None = None,
    site: int | None = None,
) -> Dashboard:
    """The figures of conversations that started from `start` to `end` (inclusive, in
    TIME_ZONE), per day or per ISO week (weeks start on Monday), from the Outcome rollup
    and a few aggregate queries: a constant number of queries whatever the volume. With
    `collection` (a knowledge.Collection id), only conversations that cited its articles;
    with `site` (a widget.Site id, or SUPPORT_PAGE), only those that came from it."""
    if by not in PERIODS:
        raise ValueError(f"by must be one of {PERIODS}, not {by!r}")
    if end < start:
        raise ValueError("end is before start")
    sums = {period: dict.fromkeys(_KEYS, 0) for period in period_starts(start, end, by)}
    for row in _outcome_sums(start=start, end=end, by=by, collection=collection, site=site):
        sums[row.pop("period")] = row
    periods = {period: _figures(period, row) for period, row in sums.items()}
    totals = _figures(start, {key: sum(row[key] for row in sums.values()) for key in _KEYS})
    since, until = _local_midnight(start), _local_midnight(end + timedelta(days=1))
    for period, p50, p95 in _ttft(
        since=since, until=until, by=by, collection=collection, site=site
    ):
        figures = totals if period is None else periods.get(period)
        if figures is not None:
            figures.ttft_p50_ms, figures.ttft_p95_ms = p50, p95
    most_cited, in_thumbs_down = _cited(
        since=since, until=until, limit=limit, collection=collection, site=site
    )
    return Dashboard(
        start=start,
        end=end,
        by=by,
        periods=list(periods.values()),
        totals=totals,
        most_cited=most_cited,
        cited_in_thumbs_down=in_thumbs_down,
    )


def period_starts(start: date, end: date, by: str) -> list[date]:
    """Every period from the one holding `start` to the one holding `end`, empty or not:
    each day, or each ISO week's Monday."""
    step = timedelta(days=1 if by == "day" else 7)
    first = start if by == "day" else start - timedelta(days=start.weekday())
    return [first + step * n for n in range((end - first) // step + 1)]


_KEYS = ["conversations", "escalations", *SUMMED, *RESOLUTIONS, "csat_sum", "csat_count"]


def _outcome_sums(
    *, start: date, end: date, by: str, collection: int | None, site: int | None
) -> list[dict]:
    period = F("started_on") if by == "day" else TruncWeek("started_on")
    named = {f"sum_{name}": Sum(name) for name in SUMMED}
    named |= {f"n_{r}": Count("pk", filter=Q(resolution=r)) for r in RESOLUTIONS}
    outcomes = Outcome.objects.filter(started_on__range=(start, end))
    if collection is not None:
        outcomes = outcomes.filter(collections__contains=[collection])
    if site == SUPPORT_PAGE:
        outcomes = outcomes.filter(conversation__site__isnull=True)
    elif site is not None:
        outcomes = outcomes.filter(conversation__site=site)
    rows = (
        outcomes.annotate(period=period)
        .values("period")
        .annotate(
            conversations=Count("pk"),
            escalations=Count("pk", filter=Q(escalated=True)),
            csat_sum=Sum("csat_score"),
            csat_count=Count("csat_score"),
            **named,
        )
        .order_by("period")
    )
    # "sum_questions" -> "questions": the model's own names are taken by its fields.
    return [
        {key.removeprefix("sum_").removeprefix("n_"): value or 0 for key, value in row.items()}
        | {"period": row["period"]}
        for row in rows
    ]


def _figures(period: date, row: dict) -> Figures:
    csat_count = row["csat_count"]
    return Figures(
        start=period,
        conversations=row["conversations"],
        escalations=row["escalations"],
        **{name: row[name] for name in SUMMED},
        **{r: row[r] for r in RESOLUTIONS},
        csat_average=row["csat_sum"] / csat_count if csat_count else None,
        csat_count=csat_count,
    )


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _in_collection(collection: int | None) -> tuple[str, list]:
    """An SQL condition on a message's conversation_id: that the conversation cited the
    collection's articles (the GIN index on Outcome.collections answers it); none without."""
    if collection is None:
        return "", []
    sql = f"""AND conversation_id IN (SELECT conversation_id FROM {Outcome._meta.db_table}
                                      WHERE collections @> ARRAY[%s]::integer[])"""
    return sql, [collection]


def _of_site(site: int | None, column: str) -> tuple[str, list]:
    """An SQL condition on a message's conversation id (`column`): that the conversation
    came from the site, or from no site with SUPPORT_PAGE (Conversation.site's index
    answers both); none without."""
    if site is None:
        return "", []
    conversations = Conversation._meta.db_table
    if site == SUPPORT_PAGE:
        return f"AND {column} IN (SELECT id FROM {conversations} WHERE site_id IS NULL)", []
    return f"AND {column} IN (SELECT id FROM {conversations} WHERE site_id = %s)", [site]


def _ttft(
    *, since: datetime, until: datetime, by: str, collection: int | None, site: int | None
) -> list[tuple]:
    """(period start, p50, p95) of the answers' time to first token from the model
    (Message.timings' llm_ttft), per period, and a last row for the whole range whose
    period is None. Percentiles do not add up, hence ROLLUP instead of summing periods."""
    scope, scoped = _in_collection(collection)
    of_site, sited = _of_site(site, "conversation_id")
    sql = f"""
        SELECT CASE WHEN GROUPING(period) = 1 THEN NULL ELSE period END,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft)
        FROM (
            SELECT date_trunc(%s, created_at AT TIME ZONE %s)::date AS period,
                   (timings ->> 'llm_ttft')::double precision AS ttft
            FROM {Message._meta.db_table}
            WHERE role = %s AND created_at >= %s AND created_at < %s
              AND jsonb_typeof(timings -> 'llm_ttft') = 'number' {scope} {of_site}
        ) answers
        GROUP BY ROLLUP (period)
    """
    params = [by, settings.TIME_ZONE, Message.Role.ASSISTANT, since, until, *scoped, *sited]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _cited(
    *, since: datetime, until: datetime, limit: int, collection: int | None, site: int | None
) -> tuple[list, list]:
    """The articles cited most often by answers given in the range, and those cited most
    often by answers that got a thumbs-down. Answers only: a refusal cites nothing, and the
    fallback lists what retrieval found, not what an answer drew on. With a collection,
    only the articles in it now (a deleted article is in none), ranked among themselves;
    with a site, only answers in its conversations."""
    only, scoped = "", []
    if collection is not None:
        only, scoped = "WHERE a.collection_id = %s", [collection]
    of_site, sited = _of_site(site, "m.conversation_id")
    sql = f"""
        WITH cited AS (
            SELECT source ->> 'slug' AS slug, max(source ->> 'title') AS title,
                   count(DISTINCT m.id) AS n,
                   count(DISTINCT m.id) FILTER (WHERE m.feedback = 'down') AS down
            FROM {Message._meta.db_table} m
            CROSS JOIN LATERAL jsonb_array_elements(m.sources) AS source
            WHERE m.role = %s AND NOT m.refused AND NOT m.fallback
              AND m.created_at >= %s AND m.created_at < %s
              AND jsonb_typeof(m.sources) = 'array'
              AND jsonb_typeof(source) = 'object' AND source ->> 'slug' IS NOT NULL {of_site}
            GROUP BY 1
        ), ranked AS (
            SELECT c.slug, coalesce(a.title, c.title, c.slug) AS title, c.n, c.down,
                   row_number() OVER (ORDER BY c.n DESC, c.slug) AS by_n,
                   row_number() OVER (ORDER BY c.down DESC, c.slug) AS by_down
            FROM cited c LEFT JOIN {Article._meta.db_table} a ON a.slug = c.slug {only}
        )
        SELECT slug, title, n, down, by_n, by_down FROM ranked
        WHERE by_n <= %s OR (down > 0 AND by_down <= %s)
    """
    with connection.cursor() as cursor:
        params = [Message.Role.ASSISTANT, since, until, *sited, *scoped, limit, limit]
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    most = sorted((r for r in rows if r[4] <= limit), key=lambda r: r[4])
    down = sorted((r for r in rows if r[3] > 0 and r[5] <= limit), key=lambda r: r[5])
    return (
        [CitedArticle(title=r[1], slug=r[0], count=r[2]) for r in most],
        [CitedArticle(title=r[1], slug=r[0], count=r[3]) for r in down],
    )
