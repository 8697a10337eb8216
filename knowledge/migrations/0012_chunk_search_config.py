"""Full text in the KB's language: each chunk records its text search configuration
(KB_SEARCH_CONFIG), and its stored search_vector is generated with that configuration
instead of 'english'. Existing chunks were built with 'english' and say so."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

import knowledge.models

# IMMUTABLE, though a name's lookup is only stable: see knowledge.models.CHUNK_REGCONFIG.
REGCONFIG_FUNCTION = """
CREATE FUNCTION knowledge_regconfig(name text) RETURNS regconfig
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT name::regconfig $$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0011_collections"),
    ]

    operations = [
        migrations.RunSQL(REGCONFIG_FUNCTION, "DROP FUNCTION knowledge_regconfig(text)"),
        migrations.AddField(
            model_name="chunk",
            name="search_config",
            field=models.CharField(
                db_default="english",
                default=knowledge.models.search_config_setting,
                editable=False,
                max_length=63,
            ),
        ),
        migrations.RemoveIndex(model_name="chunk", name="chunk_search_vector_gin"),
        migrations.RemoveField(model_name="chunk", name="search_vector"),
        migrations.AddField(
            model_name="chunk",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector(
                    "heading",
                    "text",
                    config=models.Func(
                        models.F("search_config"),
                        function="knowledge_regconfig",
                        output_field=models.TextField(),
                    ),
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="chunk",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_vector"], name="chunk_search_vector_gin"
            ),
        ),
    ]
