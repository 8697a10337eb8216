from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    # Installed only for its management commands (run, devstack).
    name = "helpdesk"
    verbose_name = "Helpdesk"
