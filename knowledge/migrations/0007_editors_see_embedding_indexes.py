"""Content editors follow re-embedding progress under Admin › Embedding indexes."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; this one is needed now.
    app_config = apps.get_app_config("knowledge")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Content editors")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="knowledge", codename="view_embeddingindex")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0006_chunk_index_required"),
        ("tickets", "0003_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
