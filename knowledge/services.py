"""Writes to the knowledge base, and the calls out to the embedder they need."""

import logging
from datetime import timedelta
from pathlib import Path, PurePath

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from knowledge.chunking import article_chunks, embedding_pipeline
from knowledge.enqueue import EMBED_ARTICLE, task_on_commit
from knowledge.extract import Extracted, ExtractionError, extract
from knowledge.indexes import embedding_index_activate_if_complete, live_indexes_ensure
from knowledge.models import Article, ArticleEmbedding, Chunk, EmbeddingIndex
from knowledge.sanitise import (
    ADDRESSES_ASSISTANT,
    Finding,
    addresses_assistant,
    as_flags,
    excerpt,
    sanitise,
    strip_invisible_noted,
)

logger = logging.getLogger(__name__)


def article_embed(*, article_id: int, index_id: int | None = None) -> bool:
    """Chunk and embed an article into one index, or into every live index (the active
    one, and one being built by `manage.py reembed`). Returns whether anything changed.

    Safe to run twice: an index whose stored hash matches the article is skipped. An
    article held back for review (article_screen) is embedded nowhere."""
    indexes = live_indexes_ensure()
    if index_id is not None:
        indexes = [i for i in indexes if i.pk == index_id]
    article = Article.objects.filter(pk=article_id).first()
    held_back = article is None or article_screen(article=article)
    changed = False
    for index in indexes:
        if not held_back:
            changed |= _embed_into(article_id, index)
        # A held-back or deleted article no longer counts towards a build's completion.
        if index.state == EmbeddingIndex.State.BUILDING:
            embedding_index_activate_if_complete(index_id=index.pk)
    return changed


def _embed_into(article_id: int, index: EmbeddingIndex) -> bool:
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return False
    content_hash = article.compute_hash(pipeline=embedding_pipeline(index.model_name))
    if _is_current(article, index, content_hash):
        if index.state == EmbeddingIndex.State.ACTIVE:  # e.g. scheduled, then reverted
            Article.objects.filter(pk=article_id).exclude(status=Article.Status.READY).update(
                status=Article.Status.READY, error=""
            )
        return False
    try:
        chunks = article_chunks(article, model=index.model_name)
    except Exception as exc:  # the editor sees why in the admin; the worker keeps going
        logger.exception("Embedding article %s with %s failed", article_id, index.model_name)
        Article.objects.filter(pk=article_id).update(
            status=Article.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    with transaction.atomic():
        locked = Article.objects.select_for_update().filter(pk=article_id).first()
        # The article may have been edited (or deleted) while we embedded; the task that
        # the edit enqueued will embed the newer text, so these vectors are thrown away.
        pipeline = embedding_pipeline(index.model_name)
        if locked is None or locked.compute_hash(pipeline=pipeline) != content_hash:
            return False
        # Old chunks out, new ones in, in one transaction: readers see one or the other.
        Chunk.objects.filter(article=locked, index=index).delete()
        for position, chunk in enumerate(chunks):
            chunk.article, chunk.index, chunk.position = locked, index, position
        Chunk.objects.bulk_create(chunks)
        ArticleEmbedding.objects.update_or_create(
            article=locked,
            index=index,
            defaults={
                "content_hash": content_hash,
                "chunk_count": len(chunks),
                "embedded_at": timezone.now(),
            },
        )
        _mark_ready(article_id, index)
    return True


def _is_current(article: Article, index: EmbeddingIndex, content_hash: str) -> bool:
    return ArticleEmbedding.objects.filter(
        article=article, index=index, content_hash=content_hash
    ).exists()


def _mark_ready(article_id: int, index: EmbeddingIndex) -> None:
    # The article list shows the vectors that answer customers: the active index's.
    if index.state == EmbeddingIndex.State.ACTIVE:
        Article.objects.filter(pk=article_id).update(
            status=Article.Status.READY,
            error="",
            embedded_at=timezone.now(),
            embedding_model=index.model_name,
        )


def article_screen(*, article: Article) -> bool:
    """Record what sanitising the article's text finds (Article.flags) and hold it back
    (status flagged) while it addresses the assistant in a way no editor has approved.
    Returns whether it is held back. Cheap, so every path to the embedder calls it."""
    kept = [f for f in article.flags if f.get("where") == "file"]  # set when a file is read
    flags = (
        kept + _title_flags(article.title) + as_flags(sanitise(article.body).findings, where="body")
    )
    article.flags = flags
    held_back = bool(article.unapproved_flags())
    status = article.status
    if held_back:
        status = Article.Status.FLAGGED
    elif status == Article.Status.FLAGGED:
        status = Article.Status.PENDING  # released: article_schedule_embedding enqueues it
    Article.objects.filter(pk=article.pk).exclude(flags=flags, status=status).update(
        flags=flags, status=status
    )
    article.status = status
    return held_back


def _title_flags(title: str) -> list[dict[str, str]]:
    findings: list[Finding] = []
    title = strip_invisible_noted(title, findings)
    # A title cannot lose a sentence; it holds the article back until renamed or approved.
    if addresses_assistant(title):
        findings.append(Finding(ADDRESSES_ASSISTANT, excerpt(title)))
    return as_flags(findings, where="title")


def article_approve(*, article: Article) -> None:
    """An editor has read the findings: embed the article. The sentences that address the
    assistant stay out of the vectors all the same (sanitise() drops them); approving lets
    the rest of the article answer. A sentence added later holds it back again."""
    article_screen(article=article)
    approved = [f for f in article.flags if f["kind"] == ADDRESSES_ASSISTANT]
    Article.objects.filter(pk=article.pk).update(approved_flags=approved)
    article.approved_flags = approved
    article_schedule_embedding(article=article)


def article_schedule_embedding(*, article: Article) -> None:
    """Enqueue the article's embedding once the transaction commits, unless every live
    index already holds its current text. The list shows it pending meanwhile, or held
    back for review when its text addresses the assistant."""
    if article_screen(article=article):
        return  # until an editor uses "Approve and embed"
    stale = [
        index
        for index in live_indexes_ensure()
        if not _is_current(
            article, index, article.compute_hash(pipeline=embedding_pipeline(index.model_name))
        )
    ]
    # Pending with nothing stale: just released from review (e.g. an edit reverted), and
    # the task marks it ready.
    if not stale and article.status != Article.Status.PENDING:
        return
    queued = {"embedding_queued_at": timezone.now()}
    if any(index.state == EmbeddingIndex.State.ACTIVE for index in stale):
        queued |= {"status": Article.Status.PENDING, "error": ""}
    Article.objects.filter(pk=article.pk).update(**queued)
    task_on_commit(EMBED_ARTICLE, article.pk)


def stale_requeue(*, model, status: str, queued_field: str, older_than: timedelta, enqueue) -> int:
    """Enqueue again the rows of `model` still in `status` long after `queued_field` says
    they were queued: their task was lost (a broker blip, a purged queue) or killed.

    Safe to run twice: each row is claimed by moving its queued time to now, so a second
    run finds it fresh; and the tasks themselves are idempotent. Returns how many."""
    now = timezone.now()
    stale = Q(status=status) & (
        Q(**{f"{queued_field}__isnull": True}) | Q(**{f"{queued_field}__lt": now - older_than})
    )
    requeued = 0
    for pk in model.objects.filter(stale).values_list("pk", flat=True):
        with transaction.atomic():
            if model.objects.filter(stale, pk=pk).update(**{queued_field: now}):
                enqueue(pk)
                requeued += 1
    return requeued


def article_requeue_stale(*, older_than: timedelta) -> int:
    """Enqueue again the embedding of articles still pending long after it was queued
    (the task is idempotent: a content hash). Returns how many were requeued."""
    requeued = stale_requeue(
        model=Article,
        status=Article.Status.PENDING,
        queued_field="embedding_queued_at",
        older_than=older_than,
        enqueue=lambda pk: task_on_commit(EMBED_ARTICLE, pk),
    )
    if requeued:
        logger.warning("Requeued the embedding of %d article(s) pending too long", requeued)
    return requeued


def article_upsert_from_file(*, path: Path) -> tuple[Article, bool]:
    """Create or update the article whose slug is the file's name. Returns (article, changed)."""
    return article_upsert(filename=path.name, data=path.read_bytes())


def article_upsert(*, filename: str, data: bytes) -> tuple[Article, bool]:
    extracted = extract(filename=filename, data=data)
    return article_upsert_extracted(filename=filename, extracted=extracted)


def article_upsert_extracted(*, filename: str, extracted: Extracted) -> tuple[Article, bool]:
    """article_upsert for a file read already (knowledge/uploads.py reads outside the
    transaction that saves)."""
    slug = slugify(PurePath(filename).stem)[:200]
    if not slug:
        raise ExtractionError(f"{filename}: rename the file; its name gives no usable slug.")
    title = extracted.title[:200]
    article = Article.objects.filter(slug=slug).first()
    if article and article.title == title and article.body == extracted.body:
        return article, False
    article = article or Article(slug=slug)
    article.title, article.body = title, extracted.body
    # What the file hid from readers; article_screen adds what the text itself holds.
    article.flags = as_flags(extracted.findings, where="file")
    article.save()
    return article, True


def article_fill_from_file(
    *, article_id: int, extracted: Extracted, fill_title: bool, publish: bool | None
) -> tuple[Article, bool]:
    """Give an article the text of a file uploaded on its form, read already by a worker
    (knowledge/uploads.py); its title too when the form left that empty, and `published`
    unless None. Call inside a transaction. Returns (article, changed)."""
    article = Article.objects.select_for_update().get(pk=article_id)
    title = extracted.title[:200] if fill_title else article.title
    published = article.published if publish is None else publish
    if (article.title, article.body, article.published) == (title, extracted.body, published):
        return article, False
    article.title, article.body, article.published = title, extracted.body, published
    # What the file hid from readers; article_screen adds what the text itself holds.
    article.flags = as_flags(extracted.findings, where="file")
    article.save()
    return article, True


def article_file_failed(*, article_id: int, message: str) -> None:
    """A file uploaded on an article's form could not be read. An article with a body keeps
    it (and its vectors) and the change page shows why; one created from the file has none,
    so it is marked failed, and stays unpublished."""
    Article.objects.filter(pk=article_id, body="").update(
        status=Article.Status.FAILED, error=message[:2000]
    )
