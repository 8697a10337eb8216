import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0005_existing_vectors_into_an_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="chunk",
            name="index",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="chunks", to="knowledge.embeddingindex"),
        ),
        migrations.AddConstraint(
            model_name="chunk",
            constraint=models.UniqueConstraint(fields=("article", "index", "position"), name="chunk_article_index_position"),
        ),
        migrations.RemoveField(model_name="article", name="content_hash"),
    ]
