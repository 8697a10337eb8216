"""System checks of the KB's full-text configuration (KB_SEARCH_CONFIG), registered in
knowledge/apps.py. `manage.py check` runs the form check; `check --database default` and
`migrate` (which production runs before the web service starts) run the other two."""

import re

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import connections

# A bare, lower-case identifier, as pg_ts_config names Postgres's own configurations. The
# name only ever reaches SQL as a parameter; the form check keeps it so all the same.
CONFIG_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

CONFIG_EXISTS_SQL = """
SELECT EXISTS (
    SELECT 1 FROM pg_ts_config WHERE cfgname = %s AND pg_ts_config_is_visible(oid)
)
"""
# Before migration 0012 (migrate runs the checks first, on an empty database too) the
# column does not exist yet. A query of its own: Postgres resolves every table and column
# of a statement before running it, so a CASE around the query would not spare it the error.
COLUMN_EXISTS_SQL = """
SELECT EXISTS (
    SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
        AND table_name = 'knowledge_chunk' AND column_name = 'search_config'
)
"""
OTHER_CONFIGS_SQL = """
SELECT array_agg(DISTINCT search_config ORDER BY search_config) FROM knowledge_chunk
WHERE search_config <> %s
"""


def search_config_form(app_configs=None, **kwargs) -> list[CheckMessage]:
    config = settings.KB_SEARCH_CONFIG
    if not isinstance(config, str) or not CONFIG_NAME.fullmatch(config):
        return [
            Error(
                f"KB_SEARCH_CONFIG is {config!r}: it must be the bare, lower-case name of a "
                "Postgres text search configuration, such as english, german or simple.",
                id="knowledge.E001",
            )
        ]
    return []


def search_config_exists(app_configs=None, databases=None, **kwargs) -> list[CheckMessage]:
    config = settings.KB_SEARCH_CONFIG
    if not databases or search_config_form():
        return []
    with connections["default"].cursor() as cursor:
        cursor.execute(CONFIG_EXISTS_SQL, [config])
        exists = cursor.fetchone()[0]
    if exists:
        return []
    return [
        Error(
            f"KB_SEARCH_CONFIG is {config!r}, a text search configuration this database "
            "does not have. `SELECT cfgname FROM pg_ts_config` lists those it has.",
            id="knowledge.E002",
        )
    ]


def search_config_current(app_configs=None, databases=None, **kwargs) -> list[CheckMessage]:
    config = settings.KB_SEARCH_CONFIG
    if not databases or search_config_form():
        return []
    with connections["default"].cursor() as cursor:
        cursor.execute(COLUMN_EXISTS_SQL)
        if not cursor.fetchone()[0]:
            return []
        cursor.execute(OTHER_CONFIGS_SQL, [config])
        others = cursor.fetchone()[0]
    if not others:
        return []
    return [
        Warning(
            f"KB_SEARCH_CONFIG is {config!r}, but chunks' full text was built with "
            f"{', '.join(others)}: questions and chunks are stemmed differently.",
            hint="Run `manage.py reembed`.",
            id="knowledge.W001",
        )
    ]
