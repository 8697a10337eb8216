"""Collections of articles (issue 18's dashboard filter), run by content editors as they
run the articles."""

import django.db.models.deletion
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

CODENAMES = ["view_collection", "add_collection", "change_collection", "delete_collection"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; these are needed now.
    app_config = apps.get_app_config("knowledge")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Content editors").first()
    if group is not None:
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="knowledge", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("knowledge", "0010_form_uploads_read_by_workers"),
        ("tickets", "0003_staff_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="Collection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("slug", models.SlugField(max_length=100, unique=True)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.AddField(
            model_name="article",
            name="collection",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="articles", to="knowledge.collection"),
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
