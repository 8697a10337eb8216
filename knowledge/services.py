"""Writes to the knowledge base, and the calls out to the embedder they need."""

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from knowledge import embeddings
from knowledge.chunking import chunk_markdown
from knowledge.extract import extract
from knowledge.models import Article, Chunk

logger = logging.getLogger(__name__)


def article_embed(*, article_id: int) -> bool:
    """Chunk and embed an article, replacing its chunks in one transaction.

    Safe to run twice: when the stored content hash matches the article and the model,
    nothing is done. Returns whether new chunks were written.
    """
    model_name = embeddings.model_name()
    article = Article.objects.filter(pk=article_id).first()
    if article is None or article.is_current(model_name=model_name):
        return False
    content_hash = article.compute_hash(model_name=model_name)
    try:
        chunks = _build_chunks(article)
    except Exception as exc:  # the editor sees why in the admin; the worker keeps going
        logger.exception("Embedding article %s failed", article_id)
        Article.objects.filter(pk=article_id).update(
            status=Article.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    with transaction.atomic():
        locked = Article.objects.select_for_update().filter(pk=article_id).first()
        # The article may have been edited (or deleted) while we embedded; the task that
        # the edit enqueued will embed the newer text, so these vectors are thrown away.
        if locked is None or locked.compute_hash(model_name=model_name) != content_hash:
            return False
        Chunk.objects.filter(article=locked).delete()
        for position, chunk in enumerate(chunks):
            chunk.article, chunk.position = locked, position
        Chunk.objects.bulk_create(chunks)
        Article.objects.filter(pk=article_id).update(
            status=Article.Status.READY,
            content_hash=content_hash,
            error="",
            embedded_at=timezone.now(),
            embedding_model=model_name,
        )
    return True


def _build_chunks(article: Article) -> list[Chunk]:
    tokenizer = embeddings.tokenizer()

    def count(text: str) -> int:
        return len(tokenizer.tokenize(text))

    drafts = chunk_markdown(article.body, max_tokens=settings.CHUNK_MAX_TOKENS, count=count)
    chunks = [
        Chunk(article=article, heading=d.heading, anchor=d.anchor, text=d.text) for d in drafts
    ]
    vectors = embeddings.embed_documents([c.embedding_text() for c in chunks])
    for chunk, vector in zip(chunks, vectors, strict=True):
        chunk.embedding = vector
    return chunks


def article_schedule_embedding(*, article: Article) -> None:
    """Mark the article pending and enqueue its embedding once the transaction commits."""
    from knowledge.tasks import embed_article

    if article.is_current(model_name=embeddings.model_name()):
        return
    Article.objects.filter(pk=article.pk).update(status=Article.Status.PENDING, error="")
    transaction.on_commit(lambda: embed_article.delay(article.pk))


def article_upsert_from_file(*, path: Path) -> tuple[Article, bool]:
    """Create or update the article whose slug is the file's name. Returns (article, changed)."""
    extracted = extract(filename=path.name, data=path.read_bytes())
    slug = path.stem.lower()
    article = Article.objects.filter(slug=slug).first()
    if article and article.title == extracted.title and article.body == extracted.body:
        return article, False
    article = article or Article(slug=slug)
    article.title, article.body = extracted.title[:200], extracted.body
    article.save()
    return article, True
