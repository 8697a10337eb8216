"""System checks for the core's settings, registered by the project (helpdesk/apps.py),
since the core is no installed app. `manage.py check` runs them, and so does `migrate`,
which production runs before the web service starts (docker-compose.yml): a typo in the
opening hours stops a deploy instead of failing every visit to the support page."""

from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

from core import hours


def business_hours(app_configs=None, **kwargs) -> list[CheckMessage]:
    try:
        hours.configured()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="core.E001")]
    return []
