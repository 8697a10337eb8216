"""The Outcome rollup: one row per conversation, counted once and read by the dashboard, so
the dashboard sums a few thousand rows instead of reading every message.

A conversation is (re)computed when it has messages and
- it has no Outcome yet, or its Outcome is still pending (its window is open);
- it changed since its Outcome was computed: the conversation's `updated_at`, its ticket's
  `updated_at` or `csat_at` (a CSAT rating is written with update(), which bumps nothing),
  or a message created after `computed_at`;
- or it cites an article changed since the last pass (its collection may be another now:
  `Outcome.collections` is filed by the articles' collections, and a settled outcome would
  otherwise keep the old filing for good);
- or its Outcome was computed in the last INSIGHTS_RETURN_HOURS + 1 hours. A thumb on an
  answer is written with update() and moves no timestamp, so nothing above would see it;
  a thumb comes while the customer still has the answer open, which is well inside that
  time after the Outcome last changed. The hour more also covers a message committed
  while a run was reading. Such rows are written again only when a figure changed (or the
  conversation did), so `computed_at` stays put and each row leaves this set a day later.

Reads are in batches of BATCH conversations (four queries and one upsert each: messages,
the collections of the articles they cited, tickets, outcomes), never one query per
conversation. Safe to run twice: each row is an upsert of the same figures.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from chat.models import Conversation, Message
from insights.models import Outcome
from insights.resolution import ASSISTANT, USER, Turn, classify
from knowledge.models import Article
from tickets.models import Ticket

BATCH = 2000
TEXT = TextField()
FIGURES = ["started_on", "questions", "answered", "refused", "fallback", "injection",
           "escalated", "resolution", "thumbs_up", "thumbs_down", "csat_score",
           "collections"]  # fmt: skip


def outcomes_roll_up(*, now: datetime | None = None, conversation_id: int | None = None) -> int:
    """(Re)compute the Outcome of each conversation that needs it, or of the one given.
    Returns how many rows were written."""
    now = now or timezone.now()
    one = conversation_id is not None
    stale = {conversation_id: True} if one else {**dict(_stale(now=now)), **_refiled()}
    ids = sorted(stale)
    return sum(
        _roll_up(ids[n : n + BATCH], touched=stale, now=now) for n in range(0, len(ids), BATCH)
    )


def _stale(*, now: datetime) -> Iterable[tuple[int, bool]]:
    """(conversation id, changed since its Outcome was computed) of each one to compute."""
    computed = F("outcome__computed_at")
    later = Message.objects.filter(
        conversation=OuterRef("pk"), created_at__gt=OuterRef("outcome__computed_at")
    )
    touched = (
        Q(updated_at__gt=computed)
        | Q(ticket__updated_at__gt=computed)
        | Q(ticket__csat_at__gt=computed)
        | Exists(later)
    )
    recent = now - timedelta(hours=settings.INSIGHTS_RETURN_HOURS + 1)
    return (
        Conversation.objects.filter(Exists(Message.objects.filter(conversation=OuterRef("pk"))))
        .annotate(touched=ExpressionWrapper(touched, output_field=BooleanField()))
        .filter(
            Q(outcome__isnull=True)
            | Q(outcome__resolution=Outcome.Resolution.PENDING)
            | Q(outcome__computed_at__gte=recent)
            | Q(touched=True)
        )
        .order_by("pk")
        .values_list("pk", "touched")
    )


def _refiled() -> dict[int, bool]:
    """The conversations whose answers cite an article changed since the last pass."""
    last_pass = Outcome.objects.aggregate(last=Max("computed_at"))["last"]
    if last_pass is None:
        return {}  # no outcome yet: every conversation is computed anyway
    slugs = list(Article.objects.filter(updated_at__gt=last_pass).values_list("slug", flat=True))
    if not slugs:
        return {}
    cites = RawSQL(
        # Not an array (an old or odd row): no elements, rather than an error.
        "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(chat_message.sources) "
        "WHEN 'array' THEN chat_message.sources ELSE '[]'::jsonb END) AS source "
        "WHERE source->>'slug' = ANY(%s))",
        [slugs],
        output_field=BooleanField(),
    )
    citing = Message.objects.filter(role=Message.Role.ASSISTANT).alias(cites=cites)
    ids = citing.filter(cites=True).values_list("conversation_id", flat=True).distinct()
    return dict.fromkeys(ids, True)


def _roll_up(ids: list[int], *, touched: dict[int, bool], now: datetime) -> int:
    turns, cited = _turns(ids)
    filed = _collections_of(set().union(*cited.values()))
    tickets = dict(
        Ticket.objects.filter(conversation_id__in=ids).values_list("conversation_id", "csat_score")
    )
    existing = {o.conversation_id: o for o in Outcome.objects.filter(conversation_id__in=ids)}
    rows = []
    for conversation_id, messages in turns.items():
        escalated = conversation_id in tickets
        row = Outcome(
            conversation_id=conversation_id,
            started_on=messages[0].at.astimezone(ZoneInfo(settings.TIME_ZONE)).date(),
            resolution=classify(messages=messages, escalated=escalated, now=now),
            escalated=escalated,
            csat_score=tickets.get(conversation_id),
            collections=sorted({filed[slug] for slug in cited[conversation_id] if slug in filed}),
            computed_at=now,
            **counts(messages),
        )
        old = existing.get(conversation_id)
        if old is None or touched.get(conversation_id) or _differs(old, row):
            rows.append(row)
    Outcome.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["conversation"],
        update_fields=[*FIGURES, "computed_at"],
    )
    return len(rows)


def _differs(old: Outcome, new: Outcome) -> bool:
    return any(getattr(old, name) != getattr(new, name) for name in FIGURES)


def _turns(ids: list[int]) -> tuple[dict[int, list[Turn]], dict[int, set[str]]]:
    """Each conversation's messages in order, and the slugs its answers cited. Only
    customers' texts are read (the phrase rules need them); answers can be long, and their
    text decides nothing."""
    rows = (
        Message.objects.filter(conversation_id__in=ids)
        .order_by("conversation_id", "created_at", "id")
        .annotate(said=Case(When(role=USER, then="text"), default=Value(""), output_field=TEXT))
        .values_list(
            "conversation_id", "role", "created_at", "said", "refused", "fallback", "screened",
            "feedback", "sources",
        )
    )  # fmt: skip
    turns: dict[int, list[Turn]] = defaultdict(list)
    cited: dict[int, set[str]] = defaultdict(set)
    for conversation_id, role, at, text, refused, fallback, screened, feedback, sources in rows:
        turns[conversation_id].append(
            Turn(role, at, text, refused, fallback, screened or "", feedback or "")
        )
        # Answers only, as the dashboard's cited articles: a refusal cites nothing, and a
        # fallback lists what retrieval found, not what an answer drew on.
        if role == ASSISTANT and not (refused or fallback):
            cited[conversation_id] |= _slugs(sources)
    return turns, cited


def _slugs(sources) -> set[str]:
    if not isinstance(sources, list):
        return set()
    return {s["slug"] for s in sources if isinstance(s, dict) and isinstance(s.get("slug"), str)}


def _collections_of(slugs: set[str]) -> dict[str, int]:
    """The collection id of each cited article that has one, in one query. An article's
    collection at the time of the rollup: moving it later does not refile settled rows."""
    if not slugs:
        return {}
    return dict(
        Article.objects.filter(slug__in=slugs, collection__isnull=False).values_list(
            "slug", "collection_id"
        )
    )


def counts(messages: list[Turn]) -> dict[str, int]:
    """The conversation's figures. A refusal answering a screened question is counted as an
    injection refusal (on the question), not as a question the knowledge base lacked."""
    figures = dict.fromkeys(
        ["questions", "answered", "refused", "fallback", "injection", "thumbs_up", "thumbs_down"],
        0,
    )
    screened = False
    for turn in messages:
        if turn.role == USER:
            screened = bool(turn.screened)
            figures["questions"] += 1
            figures["injection"] += screened
        elif turn.role == ASSISTANT:
            figures["answered"] += not (turn.refused or turn.fallback)
            figures["refused"] += turn.refused and not screened
            figures["fallback"] += turn.fallback
            figures["thumbs_up"] += turn.feedback == "up"
            figures["thumbs_down"] += turn.feedback == "down"
    return figures
