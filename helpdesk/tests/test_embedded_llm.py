"""The embedded LLM server's build, and what happens when it cannot answer.

These run first in their own file so that a broken llama.cpp build fails one obvious test
here instead of every chat test as a fallback answer."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from helpdesk import devstack

# Instructions that fault in a VM whose CPU advertises AMX without enabling it for the guest.
AMX = re.compile(r"\s(ldtilecfg|sttilecfg|tileloadd\w*|tilestored|tilezero|tilerelease|tdp\w+)\s")
# Any instruction on a 512-bit register: the build is x86-64-v3, which has none.
ZMM = re.compile(r"%zmm\d")


def llama_libraries() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")
    assert spec is not None and spec.submodule_search_locations, "llama-cpp-python is missing"
    folder = Path(spec.submodule_search_locations[0]) / "lib"
    # libggml.so -> libggml.so.0 -> libggml.so.0.25.3: each library once.
    libs = sorted({p.resolve() for p in folder.glob("lib*.so*")})
    assert any(p.name.startswith("libggml-cpu") for p in libs), f"no libggml-cpu in {libs}"
    return libs


def disassembly(path: Path) -> str:
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to check the llama.cpp build"
    out = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="objdump of ELF libraries")
def test_the_llama_cpp_library_has_no_amx_instructions():
    for path in llama_libraries():
        found = sorted({m.group(1) for m in AMX.finditer(disassembly(path))})
        assert not found, (
            f"{path.name} uses AMX ({', '.join(found)}): it crashes on CPUs that advertise "
            "AMX in a VM. Rebuild with `sh scripts/install-llama.sh`."
        )


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/proc/cpuinfo").exists(),
    reason="x86-64 Linux build flags",
)
def test_the_llama_cpp_library_is_portable_to_any_x86_64_v3_cpu():
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the x86-64-v3 baseline applies to x86-64 only")
    for path in llama_libraries():
        assert not ZMM.search(disassembly(path)), (
            f"{path.name} uses AVX-512: it was compiled for this machine's CPU, not portably. "
            "Rebuild with `sh scripts/install-llama.sh`."
        )


def test_the_embedded_llm_server_answers_a_short_completion_directly():
    url = devstack.llm_base_url()
    request = urllib.request.Request(
        f"{url}/completions",
        data=json.dumps({"prompt": "The capital of France is", "max_tokens": 4}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    assert answer["choices"][0]["text"].strip()
    assert devstack.status()["llm"], "the server died answering"


# A stand-in with the server's start-up behaviour and the AMX fault: it lists its model,
# then dies by a signal on the first completion, as the faulting llama.cpp did.
CRASHING_SERVER = textwrap.dedent(
    """
    import http.server, os, signal, sys

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b'{"data": []}')

        def do_POST(self):
            os.kill(os.getpid(), signal.SIG%s)

    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


def start_fake_server(tmp_path: Path, port: int, how: str) -> subprocess.Popen:
    script = tmp_path / "server.py"
    script.write_text(CRASHING_SERVER % how)
    proc = subprocess.Popen([sys.executable, str(script), str(port)])
    devstack.wait_for(lambda: devstack.llm_healthy(port), 20, "the fake server", script)
    return proc


def test_a_server_that_dies_on_its_first_completion_is_reported_in_one_clear_line(tmp_path):
    port = devstack.llm_port()
    proc = start_fake_server(tmp_path, port, "ILL")
    log = tmp_path / "server.log"
    with pytest.raises(devstack.DevstackError) as raised:
        devstack.check_first_completion(proc, port=port, log=log)
    message = str(raised.value)
    assert "\n" not in message
    assert "died on its first completion (killed by SIGILL)" in message
    assert "CPU instructions" in message and "scripts/install-llama.sh" in message
    assert str(log) in message
