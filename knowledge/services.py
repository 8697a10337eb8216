"""Writes to the knowledge base, and the calls out to the embedder they need."""

import io
import logging
import zipfile
from pathlib import Path, PurePath

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from knowledge import embeddings
from knowledge.chunking import chunk_markdown
from knowledge.extract import ExtractionError, extract
from knowledge.models import Article, Chunk

logger = logging.getLogger(__name__)
OVERLAP_TOKENS = 30
# Bump when chunking changes in a way that should re-embed every article.
CHUNKER_VERSION = 2


def embedding_pipeline() -> str:
    """What produced an article's chunks: stored in its hash, so a change re-embeds."""
    return f"{embeddings.model_name()}|{settings.CHUNK_MAX_TOKENS}|{CHUNKER_VERSION}"


def article_embed(*, article_id: int) -> bool:
    """Chunk and embed an article, replacing its chunks in one transaction.

    Safe to run twice: when the stored content hash matches the article and the model,
    nothing is done. Returns whether new chunks were written.
    """
    pipeline = embedding_pipeline()
    article = Article.objects.filter(pk=article_id).first()
    if article is None or article.is_current(pipeline=pipeline):
        return False
    content_hash = article.compute_hash(pipeline=pipeline)
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
        if locked is None or locked.compute_hash(pipeline=pipeline) != content_hash:
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
            embedding_model=embeddings.model_name(),
        )
    return True


def _build_chunks(article: Article) -> list[Chunk]:
    tokenizer = embeddings.tokenizer()

    def count(text: str) -> int:
        return len(tokenizer.tokenize(text))

    def reserve(heading: str) -> int:
        # embedding_text() adds the title and heading; the overlap is carried in; and the
        # model adds two special tokens. All of it must fit in what the model reads.
        return count(Chunk.embedding_head(article.title, heading)) + OVERLAP_TOKENS + 4

    max_tokens = min(settings.CHUNK_MAX_TOKENS, embeddings.max_sequence_length())
    drafts = chunk_markdown(
        article.body,
        max_tokens=max_tokens,
        overlap_tokens=OVERLAP_TOKENS,
        count=count,
        reserve=reserve,
    )
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

    if article.is_current(pipeline=embedding_pipeline()):
        return
    Article.objects.filter(pk=article.pk).update(status=Article.Status.PENDING, error="")
    transaction.on_commit(lambda: embed_article.delay(article.pk))


def article_upsert_from_file(*, path: Path) -> tuple[Article, bool]:
    """Create or update the article whose slug is the file's name. Returns (article, changed)."""
    return article_upsert(filename=path.name, data=path.read_bytes())


def article_upsert(*, filename: str, data: bytes) -> tuple[Article, bool]:
    extracted = extract(filename=filename, data=data)
    slug = slugify(PurePath(filename).stem)[:200]
    if not slug:
        raise ExtractionError(f"{filename}: rename the file; its name gives no usable slug.")
    title = extracted.title[:200]
    article = Article.objects.filter(slug=slug).first()
    if article and article.title == title and article.body == extracted.body:
        return article, False
    article = article or Article(slug=slug)
    article.title, article.body = title, extracted.body
    article.save()
    return article, True


MAX_ZIP_FILES = 500
MAX_ZIP_BYTES = 200 * 1024 * 1024


def article_bulk_upload(*, files: list[tuple[str, bytes]]) -> tuple[list[Article], list[str]]:
    """Create or update one article per file (a .zip counts as the files inside it) and
    queue the embedding of each. Returns (articles, errors); a bad file never stops the rest."""
    articles, errors = [], []
    for filename, data in _expand_zips(files, errors):
        try:
            article, _ = article_upsert(filename=filename, data=data)
        except ExtractionError as exc:
            errors.append(str(exc))
            continue
        article_schedule_embedding(article=article)
        articles.append(article)
    return articles, errors


def _expand_zips(files: list[tuple[str, bytes]], errors: list[str]):
    for filename, data in files:
        if not filename.lower().endswith(".zip"):
            yield filename, data
            continue
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            errors.append(f"{filename} is not a valid .zip file.")
            continue
        members = [m for m in archive.infolist() if not m.is_dir() and _wanted(m.filename)]
        # Guard against zip bombs: the declared sizes are checked before anything is read.
        if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            errors.append(f"{filename} holds too much (at most {MAX_ZIP_FILES} files, 200 MB).")
            continue
        for member in members:
            yield PurePath(member.filename).name, archive.read(member)


def _wanted(name: str) -> bool:
    parts = PurePath(name).parts
    return not any(p.startswith(".") or p == "__MACOSX" for p in parts)
