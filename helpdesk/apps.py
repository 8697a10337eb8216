from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class HelpdeskConfig(AppConfig):
    # Installed only for its management command (run); `manage.py devstack` runs before Django.
    name = "helpdesk"
    verbose_name = "Helpdesk"


class AdminConfig(admin_apps.AdminConfig):
    # Every app's @admin.register lands on this site, with no change to their admin.py.
    default_site = "helpdesk.admin_site.HelpdeskAdminSite"
    # Named in INSTALLED_APPS itself; without this, "helpdesk" would pick it up as its own.
    default = False
