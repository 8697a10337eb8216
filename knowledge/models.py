import hashlib

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.urls import reverse
from pgvector.django import VectorField

from knowledge.sanitise import ADDRESSES_ASSISTANT


def search_config_setting() -> str:
    return settings.KB_SEARCH_CONFIG


# A chunk's configuration as Postgres's regconfig. A generated column may only use
# immutable functions, and the cast of a name to regconfig is not one (it looks the name
# up on the search path), so migration 0012 wraps it in knowledge_regconfig(), declared
# immutable: a configuration's name keeps meaning the same configuration, as Postgres
# itself assumes of to_tsvector('english', ...) in a stored column or an index.
CHUNK_REGCONFIG = models.Func(
    models.F("search_config"), function="knowledge_regconfig", output_field=models.TextField()
)


class Collection(models.Model):
    """A group of articles (a product, a site's KB) for editors and the insights dashboard.
    A site (widget.Site) with a collection answers from its articles alone."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        # Its text addresses the assistant: not embedded until an editor approves it.
        FLAGGED = "flagged", "Held back for review"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField(blank=True, help_text="Markdown or plain text.")
    file = models.FileField(
        upload_to="articles/",
        blank=True,
        help_text="Optional .md, .txt, .html or .pdf; its text replaces the body.",
    )
    source_url = models.URLField(
        blank=True, help_text="Where customers are sent for this article instead of /kb/<slug>/."
    )
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Only published articles answer customers; unpublishing takes effect at once.
    published = models.BooleanField(default=True)
    error = models.TextField(blank=True, editable=False)
    # What sanitising found and removed (knowledge/sanitise.py): dicts of kind, where
    # ("file", "title" or "body") and an excerpt. Kept for editors; never embedded.
    flags = models.JSONField(default=list, blank=True, editable=False)
    # The flags that address the assistant which an editor has reviewed ("Approve and
    # embed"); a new such sentence holds the article back again.
    approved_flags = models.JSONField(default=list, blank=True, editable=False)
    # The status, time and model of the vectors that answer customers now.
    embedded_at = models.DateTimeField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=200, blank=True, editable=False)
    # When its embedding was last enqueued: an article pending long after this lost its
    # task (a broker blip), and the beat task requeue-stale-work enqueues it again.
    embedding_queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("knowledge:article", args=[self.slug])

    def public_url(self) -> str:
        return self.source_url or self.get_absolute_url()

    def unapproved_flags(self) -> list[dict]:
        """Findings that address the assistant and that no editor has approved yet."""
        return [
            f
            for f in self.flags
            if f["kind"] == ADDRESSES_ASSISTANT and f not in self.approved_flags
        ]

    def compute_hash(self, *, pipeline: str) -> str:
        # The pipeline (model, chunking) is part of the hash: changing either must
        # re-embed unchanged text.
        digest = hashlib.sha256()
        for part in (pipeline, self.title, self.body):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()


class EmbeddingIndex(models.Model):
    """One embedding model's vectors of the whole knowledge base.

    Exactly one index is active: it answers customers. Switching EMBEDDING_MODEL builds a
    second one beside it; the switch happens in one transaction once every article has
    vectors in the new index, so retrieval never sees a half-built knowledge base.
    """

    class State(models.TextChoices):
        BUILDING = "building", "Building"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    model_name = models.CharField(max_length=200, unique=True)
    dimensions = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.BUILDING)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=models.Q(state="active"), name="one_active_index"
            )
        ]
        verbose_name_plural = "embedding indexes"

    def __str__(self) -> str:
        return f"{self.model_name} ({self.get_state_display()})"

    def index_name(self) -> str:
        # Postgres names are at most 63 bytes; a model name can be any path.
        digest = hashlib.sha1(self.model_name.encode()).hexdigest()[:12]
        return f"knowledge_chunk_hnsw_{digest}"

    def articles_done(self) -> int:
        return self.article_embeddings.count()


class ArticleEmbedding(models.Model):
    """That an article's chunks in one index are current: the content hash makes
    re-embedding idempotent, and the rows count an index's progress."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="embeddings")
    index = models.ForeignKey(
        EmbeddingIndex, on_delete=models.CASCADE, related_name="article_embeddings"
    )
    content_hash = models.CharField(max_length=64)
    chunk_count = models.PositiveIntegerField(default=0)
    embedded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "index"], name="article_embedding_unique")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} in {self.index_id}"


class Chunk(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    # Each index has its own chunks: the split depends on the model's tokenizer.
    index = models.ForeignKey(EmbeddingIndex, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    heading = models.CharField(max_length=500, blank=True)
    anchor = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    # No fixed dimension: indexes of different models live side by side. Each index has
    # its own partial HNSW index on `embedding::vector(<its dimensions>)`, created by
    # knowledge.indexes.hnsw_create, which every query matches.
    embedding = VectorField()
    # The text search configuration (KB_SEARCH_CONFIG) its search_vector is built with.
    # Every chunk saved through the ORM takes the setting's value; `manage.py reembed`
    # moves the others to it. The database default is for rows written by plain SQL.
    search_config = models.CharField(
        max_length=63, default=search_config_setting, db_default="english", editable=False
    )
    # Kept by Postgres itself, so no code path can forget to update it, nor record one
    # configuration and build with another: changing search_config rebuilds it.
    search_vector = models.GeneratedField(
        expression=SearchVector("heading", "text", config=CHUNK_REGCONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["article", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "index", "position"], name="chunk_article_index_position"
            )
        ]
        indexes = [
            GinIndex(name="chunk_search_vector_gin", fields=["search_vector"]),
        ]

    def __str__(self) -> str:
        return f"{self.article.slug} #{self.position}"

    @staticmethod
    def embedding_head(title: str, heading: str) -> str:
        # Title and heading give a short chunk the context its words alone lack.
        return f"{title} — {heading}" if heading else title

    def embedding_text(self) -> str:
        return f"{self.embedding_head(self.article.title, self.heading)}\n\n{self.text}"


class Upload(models.Model):
    """One bulk upload by an editor: its files are read by Celery workers, not in the
    request (knowledge/uploads.py), and its status page lists what became of each."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Upload {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class UploadFile(models.Model):
    """One uploaded file, or one member of an uploaded .zip, waiting for a worker."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    # The .zip a member came from, for the editor; blank for a file uploaded as it is.
    archive = models.CharField(max_length=255, blank=True)
    # The raw bytes until a worker has read them, then emptied: they are in the article.
    data = models.BinaryField(default=bytes)
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.TextField(blank=True)
    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL)
    # A file uploaded on an article's own form: it replaces that article's body (not the
    # one its name gives), and the old body stays until it has been read.
    target = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.CASCADE, related_name="form_uploads"
    )
    # Whether the worker gives the target the file's title: the form's was left empty.
    fill_title = models.BooleanField(default=False)
    # The editor's choice of "published" for an article created from its file, saved
    # unpublished meanwhile so that no empty article is public; None for other files.
    publish = models.BooleanField(null=True, blank=True)
    # Counted when a worker starts on it: a file that kills its worker every time (past the
    # hard time limit) is given up on instead of being requeued forever.
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.archive} › {self.name}" if self.archive else self.name

    def is_zip(self) -> bool:
        return self.name.lower().endswith(".zip") and not self.archive
