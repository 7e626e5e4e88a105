#!/usr/bin/env bash
# Peak memory of `electra inspect` on hostile config.json files beside a small (1.3 MB) weights file, against the
# same command on the untouched checkpoint (the baseline: LibTorch's own footprint). Prints one line per config.
#   bash bench/inspect_memory.sh [build/electra]
# docs/reliability.md quotes its output; the goal is every peak under 200 MB.
set -euo pipefail
electra=${1:-build/electra}
here=$(cd "$(dirname "$0")/.." && pwd)
model="$here/examples/tiny-electra"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$model/model.safetensors" "$work/"

peak() {  # peak RSS in MB of `electra inspect --model $work`, and the first line it printed
  local out
  out=$(/usr/bin/time -f "%M" "$electra" inspect --model "$work" 2>&1 || true)
  printf '%6.1f MB  %s\n' "$(echo "$out" | tail -1 | awk '{print $1 / 1024}')" "$(echo "$out" | head -1 | cut -c1-110)"
}

cp "$model/config.json" "$work/config.json"
printf '%-52s ' "untouched checkpoint (baseline)"
peak
while read -r key value arch; do
  python3 - "$model/config.json" "$work/config.json" "$key" "$value" "${arch:-}" <<'EOF'
import json, sys
source, target, key, value, arch = sys.argv[1:6]
config = json.load(open(source))
config[key] = int(value)
if key == "num_labels":
    config.pop("id2label", None)
    config.pop("label2id", None)
if arch:
    config["architectures"] = [arch]
json.dump(config, open(target, "w"))
EOF
  printf '%-52s ' "$key=$value ${arch:-}"
  peak
done <<'EOF'
num_hidden_layers 1000000000
num_hidden_layers 256
num_labels 10000000000
num_labels 20000 ElectraForSequenceClassification
num_labels 20000 ElectraForTokenClassification
vocab_size 20000000
vocab_size 4000000
vocab_size 1000000000000
hidden_size 1099511627776
hidden_size 16384
embedding_size 16384
intermediate_size 100000000000
intermediate_size 65536
max_position_embeddings 1000000
type_vocab_size 65536
EOF
