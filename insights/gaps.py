"""Content gaps: the customer questions the knowledge base could not answer, grouped into
topics by their embeddings, for an editor to write the missing articles.

A question counts when its answer was refused for want of evidence, got a thumbs-down,
or its conversation became a ticket. Questions refused as prompt injections (screened)
are attacks, not missing content, and never count.

gaps_rebuild() groups every stored question again from scratch (agglomerative clustering
on cosine distance, scikit-learn), then gives each new group the identity of the old gap
most of whose questions it holds, so a gap keeps its draft across rebuilds.
"""

import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Min, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.text import slugify
from sklearn.cluster import AgglomerativeClustering

from chat import llm
from chat.models import Message
from chat.redaction import redact
from insights.models import ContentGap, GapQuestion
from knowledge import embeddings
from knowledge.models import Article
from knowledge.retrieval import (
    EmbeddedQuery,
    Index,
    min_similarity,
    query_for,
    retrieve,
    serving_index,
)
from knowledge.services import article_schedule_embedding
from tickets.models import Ticket

logger = logging.getLogger(__name__)

# Cosine distance (average linkage) under which two groups of questions are one topic.
# Chosen on insights/tests/gap_questions.py TUNING (pairwise precision 1.00, recall 0.81);
# HELD_OUT measures it. A wrong merge hides a topic from editors; a split one shows twice.
GROUPING_DISTANCE = 0.5
# The newest questions grouped per rebuild: clustering holds n²/2 distances in memory
# (4,000 questions: 64 MB). Older questions keep the gap they were last given.
MOST_QUESTIONS = 4000
EXAMPLES = 5
TREND_DAYS = 7

Reason = GapQuestion.Reason


def gaps_collect(*, since: datetime | None = None) -> int:
    """Store each unanswered question asked since `since` once, redacted, each in a gap
    of its own until the next regrouping (gaps_rebuild). Returns how many were new."""
    found = _unanswered(since)
    stored = set(
        GapQuestion.objects.filter(message_id__in=found).values_list("message_id", flat=True)
    )
    messages = Message.objects.filter(pk__in=set(found) - stored).order_by("created_at", "id")
    with transaction.atomic():
        for message in messages:
            text = redact(message.text)
            gap = ContentGap.objects.create(label=text[:300])
            GapQuestion.objects.create(
                gap=gap,
                message=message,
                text=text,
                reason=found[message.pk],
                asked_at=message.created_at,
            )
    return len(messages)


def _unanswered(since: datetime | None) -> dict[int, str]:
    """Message id -> reason, for every unanswered question; the first reason found wins."""
    # Not from conversations retention or an erasure request stripped (privacy/erasure.py):
    # their words are gone, and so is their place in a topic.
    asked = Message.objects.filter(
        role=Message.Role.USER, screened="", conversation__anonymised_at__isnull=True
    )
    if since is not None:
        asked = asked.filter(created_at__gte=since)
    # The message after each question: its answer, if the bot answered it.
    after = Message.objects.filter(
        Q(created_at__gt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk")),
        conversation=OuterRef("conversation"),
        role__in=[Message.Role.USER, Message.Role.ASSISTANT],
    ).order_by("created_at", "pk")
    answers = asked.annotate(
        next_role=Subquery(after.values("role")[:1]),
        next_refused=Subquery(after.values("refused")[:1]),
        next_feedback=Subquery(after.values("feedback")[:1]),
    ).filter(next_role=Message.Role.ASSISTANT)
    found: dict[int, str] = {}
    for pk in answers.filter(next_refused=True).values_list("pk", flat=True):
        found[pk] = Reason.REFUSED
    for pk in answers.filter(next_feedback="down").values_list("pk", flat=True):
        found.setdefault(pk, Reason.THUMBS_DOWN)
    for pk in _escalated(asked):
        found.setdefault(pk, Reason.ESCALATED)
    return found


def _escalated(asked) -> list[int]:
    """The last question of each conversation before it became a ticket (an injection
    attempt there counts as nothing: `asked` holds no screened question)."""
    last = (
        Message.objects.filter(
            conversation=OuterRef("conversation"),
            role=Message.Role.USER,
            created_at__lte=OuterRef("created_at"),
        )
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    ids = Ticket.objects.annotate(question=Subquery(last)).values_list("question", flat=True)
    return list(asked.filter(pk__in=ids).values_list("pk", flat=True))


@dataclass
class _Group:
    questions: list[GapQuestion]
    vectors: np.ndarray

    def _central_row(self) -> int:
        return int(np.argmax(self.vectors @ self.vectors.mean(axis=0)))

    def central(self) -> GapQuestion:
        """The question nearest the group's centroid: the gap's label."""
        return self.questions[self._central_row()]

    def central_vector(self) -> list[float]:
        return self.vectors[self._central_row()].tolist()


def gaps_rebuild(*, since: datetime | None = None) -> int:
    """Collect new questions, then regroup the newest MOST_QUESTIONS from scratch. Safe to
    run twice: the same questions make the same groups. Returns the number of gaps."""
    gaps_collect(since=since)
    questions = list(GapQuestion.objects.order_by("-asked_at", "-pk")[:MOST_QUESTIONS])
    if questions:
        index = serving_index()
        vectors = _vectors([q.text for q in questions], index)
        groups = [
            _Group([questions[i] for i in members], vectors[members])
            for members in _cluster(vectors)
        ]
        nearest = [_nearest_article(g.central().text, g.central_vector(), index) for g in groups]
        _store(groups, nearest)
    ContentGap.objects.filter(questions__isnull=True).delete()
    return ContentGap.objects.count()


def _vectors(texts: list[str], index: Index | None) -> np.ndarray:
    # The serving index's model, as the chat embeds questions; before anything is
    # embedded there is no index, and the configured model groups them all the same.
    model = index.model_name if index is not None else embeddings.model_name()
    return np.asarray(embeddings.embed_queries(texts, model=model), dtype=np.float32)


def _cluster(vectors: np.ndarray) -> list[list[int]]:
    """Row numbers of each group, largest group first."""
    if len(vectors) == 1:
        return [[0]]
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=GROUPING_DISTANCE,
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        groups.setdefault(int(label), []).append(row)
    return sorted(groups.values(), key=len, reverse=True)


def _nearest_article(
    text: str, vector: list[float], index: Index | None
) -> tuple[Article | None, float | None]:
    """The published article retrieval finds for the gap's label, if it is close enough to
    answer at all (min_similarity); with the similarity either way."""
    if index is None:
        return None, None
    found = retrieve(embedded=EmbeddedQuery(query_for(question=text), index, vector))
    if not found.chunks or found.best_similarity < min_similarity(index):
        return None, found.best_similarity if found.chunks else None
    return found.chunks[0].article, found.best_similarity


def _store(groups: list[_Group], nearest: list[tuple[Article | None, float | None]]) -> None:
    gap_ids = _matched_gaps(groups)
    sizes = Counter(q.gap_id for g in groups for q in g.questions)
    with transaction.atomic():
        for group, gap_id, (article, similarity) in zip(groups, gap_ids, nearest, strict=True):
            fields = {
                "label": group.central().text[:300],
                "nearest_article": article,
                "nearest_similarity": similarity,
            }
            if not _same_questions(group, gap_id, sizes):
                # Its re-check counted other questions: unchecked until the next one.
                fields |= {"answered_now": None, "checked_at": None}
            if gap_id is None or not ContentGap.objects.filter(pk=gap_id).update(**fields):
                gap_id = ContentGap.objects.create(**fields).pk
            GapQuestion.objects.filter(pk__in=[q.pk for q in group.questions]).update(gap=gap_id)


def _same_questions(group: _Group, gap_id: int | None, sizes: Counter) -> bool:
    return sizes[gap_id] == len(group.questions) and all(
        q.gap_id == gap_id for q in group.questions
    )


def _matched_gaps(groups: list[_Group]) -> list[int | None]:
    """For each new group, the old gap it continues: one that keeps at least half of its
    questions in it, the one with most of them there first (a gap with a draft wins a
    tie, then the oldest). Each old gap continues as one group at most."""
    sizes = Counter(q.gap_id for g in groups for q in g.questions)
    drafted = set(
        ContentGap.objects.filter(pk__in=sizes, draft__isnull=False).values_list("pk", flat=True)
    )
    pairs = []
    for n, group in enumerate(groups):
        for gap_id, kept in Counter(q.gap_id for q in group.questions).items():
            if 2 * kept >= sizes[gap_id]:
                pairs.append((-kept, gap_id not in drafted, gap_id, n))
    matched: list[int | None] = [None] * len(groups)
    taken = set()
    for _, _, gap_id, n in sorted(pairs):
        if matched[n] is None and gap_id not in taken:
            matched[n] = gap_id
            taken.add(gap_id)
    return matched


def gap_recheck(*, gap: ContentGap) -> int:
    """Ask retrieval each of the gap's questions again: not refused now = answered now.
    Returns how many are answered."""
    questions = list(gap.questions.all())
    index = serving_index()
    answered = 0
    if questions and index is not None:
        vectors = _vectors([q.text for q in questions], index)
        for question, vector in zip(questions, vectors, strict=True):
            embedded = EmbeddedQuery(query_for(question=question.text), index, vector.tolist())
            question.answered = not retrieve(embedded=embedded).refused
            answered += question.answered
        GapQuestion.objects.bulk_update(questions, ["answered"])
    gap.answered_now, gap.checked_at = answered, timezone.now()
    gap.save(update_fields=["answered_now", "checked_at", "updated_at"])
    return answered


def gaps_recheck_changed() -> int:
    """Re-check every gap whose answers an article may have changed since its last check
    (or since its first question, if never checked): one embedded, edited, published or
    unpublished since. Returns how many were re-checked."""
    latest = Article.objects.aggregate(embedded=Max("embedded_at"), updated=Max("updated_at"))
    changed = max((t for t in latest.values() if t is not None), default=None)
    if changed is None:
        return 0
    gaps = ContentGap.objects.annotate(first_asked=Min("questions__asked_at")).filter(
        Q(checked_at__lt=changed) | Q(checked_at__isnull=True, first_asked__lt=changed)
    )
    for gap in gaps:
        gap_recheck(gap=gap)
    return len(gaps)


# --- Drafts -------------------------------------------------------------------------------

DRAFT_MARK = (
    "DRAFT — written by the assistant from customer questions; an editor must write and "
    "check it before publishing."
)
OUTLINE_UNAVAILABLE = (
    "Outline unavailable: the model could not be reached. Write the article from the "
    "questions above."
)
OUTLINE_PROMPT = (
    "You help a support team write help-centre articles. Customers asked the questions "
    "below, which the help centre does not answer yet. Suggest an outline for one article "
    "that answers them: a few short section headings with one line each on what goes "
    "there. Plain text, one item per line, nothing else."
)
OUTLINE_LINES, OUTLINE_LINE_CHARS = 30, 200
# The model's own bullets, numbers and heading marks: each line becomes one of ours.
LIST_MARKER = re.compile(r"^(?:[-*+#>]+|\d{1,2}[.)])\s*")
# Every ASCII punctuation mark that can start Markdown syntax: a link, an image, an HTML
# tag or entity, code, emphasis, a heading, a table. Escaped, each is just a character.
MARKDOWN_SYNTAX = str.maketrans({c: "\\" + c for c in "\\`*_[]()<>#!|&~{}"})


def gap_draft_article(*, gap: ContentGap, by) -> Article:
    """An unpublished article for an editor: marked as a draft, listing the gap's questions,
    with an outline the LLM suggests (or a note when it cannot). Linked as `gap.draft`.

    The questions and the model's outline are untrusted text: each line is escaped, so it
    renders as the words it is, never as a link, an image or HTML."""
    questions = list(gap.questions.order_by("asked_at", "pk").values_list("text", flat=True))
    outline = _outline(questions)
    body = "\n".join(
        [
            f"**{DRAFT_MARK}**",
            "",
            "## What customers asked",
            "",
            *_as_list(questions),
            "",
            "## Suggested outline",
            "",
            *(_as_list(outline) if outline else [f"_{OUTLINE_UNAVAILABLE}_"]),
        ]
    )
    title = f"Draft: {gap.label}"[:200]
    article = Article.objects.create(
        title=title, slug=_draft_slug(title), body=body, published=False
    )
    # Embedded now, so publishing it later answers at once; unpublished, it answers nobody.
    article_schedule_embedding(article=article)
    gap.draft = article
    gap.save(update_fields=["draft", "updated_at"])
    logger.info("Gap %s drafted as article %s by user %s", gap.pk, article.pk, by.pk)
    return article


def _outline(questions: list[str]) -> list[str]:
    """The model's outline as plain lines; [] when the model is down or says nothing."""
    asked = "\n".join(f"- {q}" for q in questions[:20])
    messages = [
        {"role": "system", "content": OUTLINE_PROMPT},
        {"role": "user", "content": asked},
    ]
    try:
        text = llm.complete(messages)
    except llm.LLMUnavailable as exc:
        logger.warning("No outline for a content gap: %s", exc)
        return []
    lines = (LIST_MARKER.sub("", line.strip()) for line in text.splitlines())
    return [line[:OUTLINE_LINE_CHARS] for line in lines if line][:OUTLINE_LINES]


def _as_list(lines: list[str]) -> list[str]:
    return [f"- {' '.join(line.split()).translate(MARKDOWN_SYNTAX)}" for line in lines]


def _draft_slug(title: str) -> str:
    base = slugify(title)[:180] or "draft"
    slug, n = base, 1
    while Article.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


# --- Reads --------------------------------------------------------------------------------


def gap_list(*, now: datetime | None = None):
    """Every gap with its question count and trend: questions in the last TREND_DAYS
    (`recent`) and in the TREND_DAYS before (`before`)."""
    now = now or timezone.now()
    week, fortnight = now - timedelta(days=TREND_DAYS), now - timedelta(days=2 * TREND_DAYS)
    return (
        ContentGap.objects.select_related("nearest_article", "draft")
        .annotate(
            question_count=Count("questions"),
            recent=Count("questions", filter=Q(questions__asked_at__gte=week)),
            before=Count(
                "questions",
                filter=Q(questions__asked_at__gte=fortnight, questions__asked_at__lt=week),
            ),
        )
        .order_by("-question_count", "-pk")
    )


def gap_examples(*, gap: ContentGap, limit: int = EXAMPLES) -> list[str]:
    """The gap's newest questions, redacted as stored."""
    return list(gap.questions.order_by("-asked_at", "-pk").values_list("text", flat=True)[:limit])
