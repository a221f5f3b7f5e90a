#!/usr/bin/env bash
# Embedding throughput, side by side on the same texts: anymodel's local embedder (candle) and
# sentence-transformers on PyTorch's CPU build, both all-MiniLM-L6-v2 with the same threads.
#
#   scripts/embed-bench.sh [DOCUMENTS] [THREADS]    (default 512 documents of SciFact, 2 threads)
#
# sentence-transformers and torch go into a virtual environment in .anymodel/bench-venv (about
# 3 GB with torch's dependencies) the first time. The texts are the first DOCUMENTS of
# ../shared/datasets/scifact/corpus.jsonl, title and text, as the retrieval benchmark embeds them.
set -euo pipefail
cd "$(dirname "$0")/.."
documents=${1:-512}
threads=${2:-2}
corpus=../shared/datasets/scifact/corpus.jsonl
scripts/fetch-model.sh >/dev/null
venv=.anymodel/bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import sentence_transformers" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check sentence-transformers
fi
cargo build --release --quiet --example embed_benchmark
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
echo "all-MiniLM-L6-v2, $documents documents of SciFact, $threads threads:"
"$target_dir/release/examples/embed_benchmark" "$corpus" --documents "$documents" --threads "$threads"
"$venv/bin/python" - "$corpus" "$documents" "$threads" <<'PY' 2> >(grep -v "Loading weights" >&2)
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer
corpus, count, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
texts = []
with open(corpus) as f:
    for line in f:
        if len(texts) == count:
            break
        document = json.loads(line)
        texts.append(f"{document.get('title', '')} {document['text']}".strip())
model = SentenceTransformer("models/all-MiniLM-L6-v2", device="cpu")
model.encode(texts[:16], batch_size=32)  # warm-up, untimed
started = time.time()
vectors = model.encode(texts, batch_size=32)
seconds = time.time() - started
print(f"sentence-transformers (PyTorch {torch.__version__}): {len(vectors)} documents in {seconds:.2f} s: {len(vectors) / seconds:.1f} documents/s")
PY
