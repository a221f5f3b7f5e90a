#!/usr/bin/env bash
# The local backend on NVIDIA GPUs.
#
#   scripts/cuda.sh build   compiles the local backend's CUDA build (candle's CUDA kernels
#                           included) on any machine, GPU or none: nvcc comes from PyPI. About
#                           20 minutes on two cores. Linking a program needs the driver's
#                           libcuda, which only a machine with a GPU has, so this builds the
#                           library.
#   scripts/cuda.sh check   on a machine with a GPU: links the binary and the tests against the
#                           driver and CUDA's libraries (cuBLAS, cuRAND, NVRTC from PyPI), runs
#                           the local-model tests on cuda:0, a reply from the embedded model
#                           there, and the benchmark beside the CPU's. Figures go to standard
#                           output.
#
# nvcc is CUDA 13's (`nvidia-cuda-nvcc`, the packages it names, and libcu++ from
# `nvidia-cuda-cccl`): the `-cu12` nvcc package on PyPI ships ptxas without nvcc. CUDA_COMPUTE_CAP picks the GPU generation the kernels are compiled
# for (default 90, Hopper: H100, H200); the driver must be CUDA 13's or newer.
set -euo pipefail
cd "$(dirname "$0")/.."

version=13.0.88
cccl=13.0.85 # libcu++ (`nv/target`), which cuda_fp16.h includes
root=$PWD/.cuda
target=target/cuda
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}

nvcc_home() {
  if [ ! -x "$root/venv/bin/python" ]; then
    python3 -m venv "$root/venv"
  fi
  local home
  home=$("$root/venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))' 2>/dev/null || true)
  local installed
  installed=$("$root/venv/bin/pip" show nvidia-nvvm 2> /dev/null | sed -n 's/^Version: //p')
  if [ -z "$home" ] || [ ! -x "$home/bin/nvcc" ] || [ "$installed" != "$version" ] ||
    [ ! -e "$home/include/nv/target" ]; then
    echo "fetching nvcc $version from PyPI" >&2
    # One release throughout: a newer nvvm writes PTX this ptxas cannot read.
    "$root/venv/bin/pip" install --quiet "nvidia-cuda-nvcc==$version" "nvidia-nvvm==$version" \
      "nvidia-cuda-crt==$version" "nvidia-cuda-runtime==$version" "nvidia-cuda-cccl==$cccl" >&2
    home=$("$root/venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
  fi
  echo "$home"
}

toolchain() {
  local home
  home=$(nvcc_home)
  export PATH="$home/bin:$PATH" CUDA_ROOT="$home" CUDA_PATH="$home" CUDA_HOME="$home"
  export NVCC_PREPEND_FLAGS="-I$home/include"
  echo "$home"
}

build() {
  toolchain > /dev/null
  echo "building the CUDA build (compute capability $CUDA_COMPUTE_CAP) into $target" >&2
  cargo build --release -p anymodel-candle --features cuda --target-dir "$target"
}

# The libraries the programs link with, under unversioned names in .cuda/lib: CUDA's from PyPI,
# the driver's libcuda from the system.
link_libraries() {
  "$root/venv/bin/pip" install --quiet "nvidia-cublas==13.0.0.19" "nvidia-curand==10.4.0.35" \
    "nvidia-cuda-nvrtc==$version" >&2
  local home=$1 driver
  driver=$(ldconfig -p | awk '/libcuda\.so\.1 / { print $NF; exit }')
  [ -n "$driver" ] || { echo "no libcuda.so.1: is the NVIDIA driver installed?" >&2; exit 1; }
  mkdir -p "$root/lib"
  ln -sf "$driver" "$root/lib/libcuda.so"
  for name in cudart cublas cublasLt curand nvrtc; do
    ln -sf "$(find "$home/lib" -name "lib$name.so.*" | sort | head -1)" "$root/lib/lib$name.so"
  done
}

check() {
  local home
  home=$(toolchain)
  link_libraries "$home"
  export LIBRARY_PATH="$root/lib" LD_LIBRARY_PATH="$root/lib:$home/lib:${LD_LIBRARY_PATH:-}"
  cargo build --release --features cuda --target-dir "$target"
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
