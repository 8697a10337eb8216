import hashlib

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.urls import reverse
from pgvector.django import HnswIndex, VectorField


class Article(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

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
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Only published articles answer customers; unpublishing takes effect at once.
    published = models.BooleanField(default=True)
    content_hash = models.CharField(max_length=64, blank=True, editable=False)
    error = models.TextField(blank=True, editable=False)
    embedded_at = models.DateTimeField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=200, blank=True, editable=False)
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

    def compute_hash(self, *, pipeline: str) -> str:
        # The pipeline (model, chunking) is part of the hash: changing either must
        # re-embed unchanged text.
        digest = hashlib.sha256()
        for part in (pipeline, self.title, self.body):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()

    def is_current(self, *, pipeline: str) -> bool:
        return self.status == self.Status.READY and self.content_hash == self.compute_hash(
            pipeline=pipeline
        )


class Chunk(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    heading = models.CharField(max_length=500, blank=True)
    anchor = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    embedding = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS)
    # Kept by Postgres itself, so no code path can forget to update it.
    search_vector = models.GeneratedField(
        expression=SearchVector("heading", "text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["article", "position"]
        constraints = [
            models.UniqueConstraint(fields=["article", "position"], name="chunk_article_position")
        ]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
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
