"""A database of a benchmark's own, next to the dev database on the same server.

Benchmarks that load thousands of rows must not leave them in the knowledge base that
`make run` serves. Each gets a database of its own on the server the settings point at
(the embedded Postgres under HELPDESK_VAR_DIR, or DATABASE_URL's), kept between runs so
that the data can be reused.
"""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from core.databases import use_database

__all__ = ["database_url", "describe", "description", "use_database"]


def database_url() -> str:
    """A URL to the database in use, for the processes a benchmark starts (Celery workers)."""
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def description() -> str:
    """The current database's comment: where a benchmark notes what it loaded."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        )
        return cursor.fetchone()[0] or ""


def describe(text: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        name = cursor.fetchone()[0]
        cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', [text])
