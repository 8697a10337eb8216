"""Existing vectors become the active index of the model that made them."""

import hashlib

from django.db import migrations
from django.utils import timezone

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def forwards(apps, schema_editor):
    Article = apps.get_model("knowledge", "Article")
    Chunk = apps.get_model("knowledge", "Chunk")
    EmbeddingIndex = apps.get_model("knowledge", "EmbeddingIndex")
    ArticleEmbedding = apps.get_model("knowledge", "ArticleEmbedding")
    first = Chunk.objects.select_related("article").first()
    if first is None:
        return  # a fresh install: the first embedding creates the index
    name = first.article.embedding_model or DEFAULT_MODEL
    now = timezone.now()
    index = EmbeddingIndex.objects.create(
        model_name=name, dimensions=len(first.embedding), state="active", activated_at=now
    )
    Chunk.objects.update(index=index)
    for article in Article.objects.filter(chunks__isnull=False).distinct():
        ArticleEmbedding.objects.create(
            article=article,
            index=index,
            content_hash=article.content_hash,
            chunk_count=article.chunks.count(),
            embedded_at=article.embedded_at or now,
        )
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS knowledge_chunk_hnsw_{digest} ON knowledge_chunk "
        f"USING hnsw ((embedding::vector({index.dimensions})) vector_cosine_ops) "
        f"WITH (m = 16, ef_construction = 64) WHERE index_id = {index.pk}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0004_embedding_indexes"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
