"""A real Celery worker process, connected to the test database and Redis."""

import subprocess
import sys
import time

import pytest
from django.conf import settings

from helpdesk.testing import celery_env, stop_process


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Extra environment for the worker process; a test module may override it."""
    return {}


def start_worker(log, **env: str) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=settings.BASE_DIR, env=celery_env(**env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.fixture
def worker(tmp_path, worker_env):
    log = tmp_path / "worker.log"
    proc = start_worker(log, **worker_env)
    yield log
    stop_process(proc)


def wait_for(check, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"Timed out; worker log:\n{log.read_text()[-3000:]}")
