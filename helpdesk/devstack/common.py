"""What the embedded services share: where they keep their state, the lock that starts each
one once, the record of what this process started, and process helpers."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from helpdesk.environment import var_dir

VAR_DIR = var_dir()

# Services started by *this* process, in start order.
_started: list[str] = []


class DevstackError(RuntimeError):
    """An embedded service could not be started; the message says why and what to do."""


def mark_started(name: str) -> None:
    _started.append(name)


def started() -> list[str]:
    return list(_started)


def pop_started() -> str | None:
    """The service this process started last, forgotten; None when there is none left."""
    return _started.pop() if _started else None


def leave_running() -> None:
    """Forget what this process started, so that it outlives the process (`devstack up`)."""
    _started.clear()


@contextmanager
def locked():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / ".devstack.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def short_socket_dir(name: str) -> Path:
    """Unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts."""
    wanted = VAR_DIR / name
    if len(str(wanted / "redis.sock")) < 100:
        return wanted
    digest = hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"helpdesk-{digest}-{name}"


def terminate(pid: int | None, grace: float = 5.0) -> None:
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def wait_for(check: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise DevstackError(f"Timed out after {timeout:.0f}s waiting for {what}.\n{tail(log)}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
