from django.apps import AppConfig
from django.core.checks import Tags, register


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge base"

    def ready(self):
        from knowledge import checks

        register(checks.search_config_form)
        # Only with a database: `check --database default`, and migrate.
        register(checks.search_config_exists, Tags.database)
        register(checks.search_config_current, Tags.database)
