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
binary=$source_dir/build/bin/llama-bench
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

mkdir -p "$root"
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
echo "building llama-bench (native CPU features, as anymodel is built)" >&2
cmake -S "$source_dir" -B "$source_dir/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON > /dev/null
cmake --build "$source_dir/build" --target llama-bench -j "$(nproc)" > /dev/null
echo "$binary"
