#!/usr/bin/env bash
# Checks the local backend's arithmetic against llama.cpp's: on the embedded SmolLM2 (Q4_1,
# fetched by scripts/fetch-model.sh) and each synthetic Llama-3.2-1B file (Q4_K_M, Q5_K_M,
# Q6_K, Q8_0; made once by `anymodel bench synthetic:1b:TYPE`), the next-token
# log-probabilities after a fixed prompt must agree with llama.cpp's within the
# tolerance `candle/tests/llama_cpp_logprobs.rs` states. Builds llama.cpp with
# scripts/llama-bench.sh (minutes, once), then a small C program against its libllama.
#
#   scripts/check-logprobs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bench=$(scripts/llama-bench.sh)
build=$(dirname "$bench")
source_dir=$(dirname "$(dirname "$build")")
tool=$build/llama-logprobs
if [ ! -x "$tool" ] || [ scripts/llama-logprobs.c -nt "$tool" ]; then
  cc -O2 -o "$tool" scripts/llama-logprobs.c -I "$source_dir/include" -I "$source_dir/ggml/include" \
    -L "$build" -lllama -Wl,-rpath,"$PWD/$build" -lm
fi
smollm2=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$smollm2" ] || scripts/fetch-model.sh
models=("$PWD/$smollm2")
for type in q4_k_m q5_k_m q6_k q8_0; do
  # The table's first line names the file.
  models+=("$(cargo run --release --quiet -- bench "synthetic:1b:$type" -p 1 -n 1 -r 1 --no-llama |
    head -1 | sed 's/ ([0-9]* MiB).*//')")
done
LLAMA_LOGPROBS=$PWD/$tool LOGPROB_MODELS=$(IFS=:; echo "${models[*]}") cargo test --release -p anymodel-candle --test llama_cpp_logprobs \
  -- --ignored --nocapture
