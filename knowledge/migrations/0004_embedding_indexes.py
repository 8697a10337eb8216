import django.db.models.deletion
import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0003_article_published"),
    ]

    operations = [
        migrations.CreateModel(
            name="EmbeddingIndex",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("model_name", models.CharField(max_length=200, unique=True)),
                ("dimensions", models.PositiveIntegerField()),
                ("state", models.CharField(choices=[("building", "Building"), ("active", "Active"), ("retired", "Retired")], default="building", max_length=10)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("activated_at", models.DateTimeField(blank=True, null=True)),
                ("retired_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-created_at"],
                "verbose_name_plural": "embedding indexes",
                "constraints": [models.UniqueConstraint(condition=models.Q(("state", "active")), fields=("state",), name="one_active_index")],
            },
        ),
        migrations.CreateModel(
            name="ArticleEmbedding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("content_hash", models.CharField(max_length=64)),
                ("chunk_count", models.PositiveIntegerField(default=0)),
                ("embedded_at", models.DateTimeField()),
                ("article", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="embeddings", to="knowledge.article")),
                ("index", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="article_embeddings", to="knowledge.embeddingindex")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("article", "index"), name="article_embedding_unique")],
            },
        ),
        # The fixed-dimension HNSW index goes; each embedding index gets a partial one.
        migrations.RemoveIndex(model_name="chunk", name="chunk_embedding_hnsw"),
        migrations.RemoveConstraint(model_name="chunk", name="chunk_article_position"),
        migrations.AlterField(
            model_name="chunk",
            name="embedding",
            field=pgvector.django.vector.VectorField(),
        ),
        migrations.AddField(
            model_name="chunk",
            name="index",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="chunks", to="knowledge.embeddingindex"),
        ),
    ]
