"""A third staff role: support leads, who do what agents do and also read the insights
dashboard. Nobody else gets view_insights but superusers (who have every permission)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_support_leads(apps, schema_editor):
    # Permissions are normally created after all migrations; view_insights is needed now.
    app_config = apps.get_app_config("insights")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    leads, _ = Group.objects.get_or_create(name="Support leads")
    # The agents' role as it stands now (tickets migrations 0003 and 0006): later changes
    # to either group are an admin's to make.
    agents = Group.objects.filter(name="Support agents").first()
    if agents is not None:
        leads.permissions.add(*agents.permissions.all())
    leads.permissions.add(
        Permission.objects.get(content_type__app_label="insights", codename="view_insights")
    )


def remove_support_leads(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Support leads").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("insights", "0001_initial"),
        ("tickets", "0006_live_handoff"),
    ]
    operations = [migrations.RunPython(create_support_leads, remove_support_leads)]
