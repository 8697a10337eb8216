"""The two staff roles, each with the least it needs.

Support agents work tickets and read conversations; content editors run the knowledge
base. Neither sees the other's area."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Support agents": [
        ("tickets", "ticket", ["view", "change"]),
        ("tickets", "ticketnote", ["view", "add"]),
        ("tickets", "ticketchange", ["view"]),
        ("chat", "conversation", ["view"]),
        ("chat", "message", ["view"]),
        ("chat", "reviewsample", ["view", "change"]),
    ],
    "Content editors": [
        ("knowledge", "article", ["view", "add", "change", "delete"]),
        ("knowledge", "chunk", ["view"]),
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; these need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, model, actions in grants:
            codenames = [f"{action}_{model}" for action in actions]
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tickets", "0002_sla_notes_audit"),
        ("chat", "0003_agent_takeover"),
        ("knowledge", "0002_chunk_search_vector"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
