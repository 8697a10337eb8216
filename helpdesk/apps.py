from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core import checks

from core.checks import business_hours


class HelpdeskConfig(AppConfig):
    # Installed for its management command (run) and the core's system checks (the core is
    # no app of its own); `manage.py devstack` runs before Django.
    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self):
        checks.register(business_hours)


class AdminConfig(admin_apps.AdminConfig):
    # Every app's @admin.register lands on this site, with no change to their admin.py.
    default_site = "helpdesk.admin_site.HelpdeskAdminSite"
    # Named in INSTALLED_APPS itself; without this, "helpdesk" would pick it up as its own.
    default = False
