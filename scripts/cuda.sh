#!/usr/bin/env bash
# The local backend on NVIDIA GPUs.
#
#   scripts/cuda.sh build   compiles the CUDA build (candle's CUDA kernels included) on any
#                           machine, GPU or none: nvcc comes from PyPI. Minutes on two cores.
#   scripts/cuda.sh check   on a machine with a GPU: that build's local-model tests on cuda:0,
#                           a reply from the embedded model there, and the benchmark beside the
#                           CPU's. Figures go to standard output.
#
# nvcc is CUDA 13's (`nvidia-cuda-nvcc` and the packages it names): the `-cu12` package on PyPI
# ships ptxas without nvcc. CUDA_COMPUTE_CAP picks the GPU generation the kernels are compiled
# for (default 90, Hopper: H100, H200); the driver must be CUDA 13's or newer.
set -euo pipefail
cd "$(dirname "$0")/.."

version=13.0.88
root=$PWD/.cuda
target=target/cuda
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}

nvcc_home() {
  if [ ! -x "$root/venv/bin/python" ]; then
    python3 -m venv "$root/venv"
  fi
  local home
  home=$("$root/venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))' 2>/dev/null || true)
  if [ -z "$home" ] || [ ! -x "$home/bin/nvcc" ]; then
    echo "fetching nvcc $version from PyPI" >&2
    "$root/venv/bin/pip" install --quiet "nvidia-cuda-nvcc==$version" >&2
    home=$("$root/venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
  fi
  echo "$home"
}

build() {
  local home
  home=$(nvcc_home)
  export PATH="$home/bin:$PATH" CUDA_ROOT="$home" CUDA_PATH="$home" CUDA_HOME="$home"
  export NVCC_PREPEND_FLAGS="-I$home/include"
  echo "building the CUDA build (compute capability $CUDA_COMPUTE_CAP) into $target" >&2
  cargo build --release --features cuda --target-dir "$target"
  cargo test --release -p anymodel-candle --features cuda --target-dir "$target" --no-run
}

check() {
  build
  local home
  home=$(nvcc_home)
  export LD_LIBRARY_PATH="$home/lib:${LD_LIBRARY_PATH:-}"
  [ -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] || scripts/fetch-model.sh
  echo "== the local-model tests on cuda:0"
  ANYMODEL_TEST_DEVICE=cuda:0 cargo test --release -p anymodel-candle --features cuda \
    --target-dir "$target" --test smollm2
  echo "== a reply from the embedded model on cuda:0"
  config=$(mktemp)
  printf '[models.gpu]\nbackend = "candle"\npath = "%s"\ndevice = "cuda:0"\n' \
    "$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf" > "$config"
  "$target/release/anymodel" run -c "$config" -m gpu --no-stdin "What is the capital of France?"
  echo "== the benchmark: cuda:0, then the CPU"
  "$target/release/anymodel" bench models/SmolLM2-135M-Instruct.Q4_1.gguf --device cuda:0 --no-llama -r 3
  "$target/release/anymodel" bench models/SmolLM2-135M-Instruct.Q4_1.gguf --no-llama -r 3
  "$target/release/anymodel" bench synthetic:1b:q4_k_m --device cuda:0 --no-llama -r 3
}

case "${1:-}" in
  build) build ;;
  check) check ;;
  *) echo "usage: scripts/cuda.sh build|check" >&2; exit 2 ;;
esac
