#!/usr/bin/env bash
# Builds llama.cpp's `llama-bench`, the reference `anymodel bench` runs beside its own tests, and
# prints its path. llama.cpp's sources come from the llama-cpp-python source package on PyPI
# (pinned below), cmake from PyPI too; the build (a few minutes on two cores) is kept in
# .llama.cpp/, which git ignores.
#
#   LLAMA_BENCH=$(scripts/llama-bench.sh) cargo run --release -- bench MODEL.gguf -t 1,2
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.3.36
root=.llama.cpp
source_dir=$root/llama_cpp_python-$version/vendor/llama.cpp
mkdir -p "$root"

# A native build compiles llama.cpp's AMX kernels wherever the CPU announces AMX, and some
# virtual machines announce it without letting a program run it (the first tile load is an
# illegal instruction). A small program tries one tile operation; where it fails, llama.cpp is
# built without AMX, in a folder of its own, as a user of such a machine would have to.
amx_works() {
  local probe=$root/amx-probe
  if [ ! -x "$probe" ]; then
    cc -O1 -mamx-tile -o "$probe" -x c - 2> /dev/null <<'C' || return 1
#include <immintrin.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  /* ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA: a process asks before its first tile. */
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) return 1;
  unsigned char config[64];
  memset(config, 0, sizeof config);
  config[0] = 1;            /* palette 1 */
  config[16] = 64;          /* tile 0: 64 bytes a row */
  config[48] = 16;          /* 16 rows */
  _tile_loadconfig(config);
  _tile_zero(0);
  _tile_release();
  return 0;
}
C
  fi
  # In a subshell of its own (not exec'd), so that a crash is reported to /dev/null.
  ("$probe"; exit $?) 2> /dev/null
}
flags=()
build_dir=$source_dir/build
if grep -qw amx_tile /proc/cpuinfo 2> /dev/null && ! amx_works; then
  flags=(-DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    -DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
  build_dir=$source_dir/build-no-amx
fi
binary=$build_dir/bin/llama-bench
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

if [ ! -d "$source_dir" ]; then
  echo "fetching llama-cpp-python $version (llama.cpp's sources) from PyPI" >&2
  url=$(python3 - "$version" <<'PY'
import json, sys, urllib.parse, urllib.request
index = "https://pypi.org/pypi/llama-cpp-python/json"
files = json.load(urllib.request.urlopen(index))["releases"][sys.argv[1]]
sdist = next(f["url"] for f in files if f["packagetype"] == "sdist")
print(urllib.parse.urljoin(index, sdist))  # Mirrors give the address relative to the index.
PY
)
  curl -sSfL "$url" | tar xz -C "$root"
fi
if ! command -v cmake > /dev/null; then
  python3 -m venv "$root/venv"
  "$root/venv/bin/pip" install --quiet cmake >&2
  PATH="$PWD/$root/venv/bin:$PATH"
fi
echo "building llama-bench (native CPU features, as anymodel is built${flags:+; AMX does not run here})" >&2
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON "${flags[@]}" \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON > /dev/null
# The compiler's warnings are llama.cpp's own business: only a failure is shown.
if ! log=$(cmake --build "$build_dir" --target llama-bench -j "$(nproc)" 2>&1); then
  tail -n 40 <<<"$log" >&2
  exit 1
fi
echo "$binary"
