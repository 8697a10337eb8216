"""Conversations are found by the hash of a token of their own, not by the session key.

Existing rows get the hash of their old session key, which is then dropped: a session that
predates this change is given that key as its token on its next visit (chat/views.py), so
a chat open during the upgrade carries on, and no session key is left in the database.
"""

import hashlib

from django.db import migrations, models

import chat.models


def hash_session_keys(apps, schema_editor):
    Conversation = apps.get_model("chat", "Conversation")
    rows = list(Conversation.objects.only("pk", "session_key"))
    for row in rows:
        row.token_hash = hashlib.sha256(row.session_key.encode()).hexdigest()
    Conversation.objects.bulk_update(rows, ["token_hash"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_screening_and_timings")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="token_hash",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(hash_session_keys, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="conversation", name="session_key"),
        migrations.AlterField(
            model_name="conversation",
            name="token_hash",
            field=models.CharField(
                default=chat.models.unused_token_hash, editable=False, max_length=64, unique=True
            ),
        ),
    ]
