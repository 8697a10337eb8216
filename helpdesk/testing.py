"""What the tests share besides fixtures: servers of a test's own, free ports, and the
environment of a child process (a worker, daphne) that must reach this test run's services.
Importable, unlike conftest.py (tests import from here; conftest holds fixtures)."""

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from django.conf import settings

from helpdesk import devstack
from helpdesk.celery import WORKER_ENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LLMServer:
    """A llama.cpp server of the test's own, to kill mid-answer without touching the shared
    one. Started by devstack exactly as the embedded one is."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = devstack.VAR_DIR / "llm-faults" / "server.log"
        self.process = devstack.start_llm_server(port=self.port, log=log)

    def kill(self) -> None:
        """SIGKILL: no goodbye to open connections, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class RedisServer:
    """A redis-server of the test's own (devstack's binary), to kill and restart while the
    shared test Redis keeps serving the other tests."""

    def __init__(self):
        # Short: a unix socket path must fit in ~107 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="hd-redis-"))
        self.sock = self.dir / "redis.sock"
        self.url = f"unix://{self.sock}?db=0"
        self.pid: int | None = None

    def start(self) -> None:
        self.pid = devstack.start_redis_server(sock=self.sock, data_dir=self.dir)

    def kill(self) -> None:
        if not devstack.pid_alive(self.pid):
            return
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while devstack.pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)


def stop_process(process: subprocess.Popen) -> None:
    """Ask a child (a worker, beat) to stop; kill it if it has not within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def database_url_for_tests() -> str:
    """A URL to the test database, for processes the tests start (worker, daphne)."""
    from urllib.parse import urlsplit, urlunsplit

    from django.db import connection

    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that must reach this test run's services. A
    Celery worker or beat takes celery_env() instead."""
    from chat import llm

    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for_tests(),
        REDIS_URL=settings.REDIS_URL,
        LLM_BASE_URL=",".join(llm.base_urls()),
        HELPDESK_VAR_DIR=str(devstack.VAR_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def celery_env(**extra: str) -> dict[str, str]:
    """child_env() for a Celery worker or beat: no connection pool, no embedding process
    (helpdesk/celery.py, WORKER_ENV)."""
    return child_env(**{**WORKER_ENV, **extra})


def staff_context(browser, live_url: str, django_user_model, *, name: str, permissions):
    """A Playwright browser context holding the admin session of a new staff user, named
    `name` (first name `name.title()`), with these `(model, codename)` permissions. Given one
    by one: a transactional test's flushed database has no groups or permissions from
    migrations."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.test import Client

    user = django_user_model.objects.create_user(name, is_staff=True, first_name=name.title())
    for model, codename in permissions:
        permission, _ = Permission.objects.get_or_create(
            codename=codename,
            content_type=ContentType.objects.get_for_model(model),
            defaults={"name": codename},
        )
        user.user_permissions.add(permission)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_url}]
    )
    return context
