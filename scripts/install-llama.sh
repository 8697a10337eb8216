#!/bin/sh
# Builds llama-cpp-python (the embedded LLM server) so that it runs on any x86-64 machine it
# lands on, not only on the CPU that compiled it. See docs/decisions/0001-portable-llama-build.md.
#
# Why not pip's default (-march=native): ggml then compiles its AMX kernels on a CPU that
# advertises AMX, and a VM that advertises AMX without letting the guest use the tile
# registers faults on the first `ldtilecfg`: every completion kills the server.
#
# Why --no-cache-dir: pip's wheel cache is keyed by the source archive, not by CMAKE_ARGS or
# CFLAGS, so a machine that once built a native wheel would quietly install it again.
set -eu
PY=${1:-.venv/bin/python}
VERSION=$(sed -n 's/^llama-cpp-python\[server\]==//p' requirements-llm.txt)

case "$(uname -m)" in
  x86_64|amd64)
    # x86-64-v3 (Haswell, 2013, and every later x86-64 server CPU): AVX2, FMA, F16C, BMI2.
    # No AVX-512 and no AMX, whatever this machine has: the library must not depend on it.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
-DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    # Belt and braces: even a stray -march flag cannot turn the AMX kernels back on.
    NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    ;;
  *)
    CMAKE_ARGS="-DGGML_NATIVE=OFF"
    NO_AMX=""
    ;;
esac
# The multimodal (llava/mtmd) library is not used by a text-only chat model.
CMAKE_ARGS="$CMAKE_ARGS -DLLAVA_BUILD=OFF"

export CMAKE_ARGS
export CFLAGS="${CFLAGS:-} $NO_AMX"
export CXXFLAGS="${CXXFLAGS:-} $NO_AMX"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
echo "Building llama-cpp-python $VERSION with CMAKE_ARGS=$CMAKE_ARGS"
"$PY" -m pip install --quiet --no-cache-dir --force-reinstall --no-deps \
  "llama-cpp-python==$VERSION"
# --no-deps above so the rebuild never touches the app's packages; the server's own
# dependencies (FastAPI, uvicorn, ...) come from the normal, cached resolver.
"$PY" -m pip install --quiet -r requirements-llm.txt
