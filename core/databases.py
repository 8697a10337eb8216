"""A database of its own for a measurement, next to the app's on the same server.

`eval_retrieval --corpus` and the benchmarks load knowledge bases that must not end up in
the one `make run` serves. Each gets a database of its own on the server the settings point
at (the embedded Postgres under HELPDESK_VAR_DIR, or DATABASE_URL's), kept between runs so
that its data can be reused.
"""

from django.conf import settings
from django.core.management import call_command
from django.db import connection


def use_database(name: str) -> None:
    """Create `name` if it is missing, point the default connection at it, and migrate."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    if connection.pool is not None:
        connection.close_pool()  # a pool keeps connecting to the database it was made for
    # What Django's test runner does to switch to the test database.
    settings.DATABASES["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name
    call_command("migrate", interactive=False, verbosity=0)
