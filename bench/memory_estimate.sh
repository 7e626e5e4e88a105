#!/usr/bin/env bash
# The memory preflight's estimate against the measured peak RSS (docs/memory.md): `electra finetune` on the CPU for a
# few steps (then its test evaluation) with models of the tiny, small and base shapes (`electra init`, the 8k
# vocabulary of examples/electra-nsmc-tiny) and NSMC-format data whose every line fills the sequence length, at
# several micro-batch sizes. Prints one table row per run: the estimate the run printed, the peak RSS
# (/usr/bin/time's maximum resident set size) and their ratio. The `-nodrop` rows use the same model without
# attention dropout: LibTorch 2 builds then run the fused attention kernel on the CPU, LibTorch 1.13 the eager one.
#   bash bench/memory_estimate.sh [build/electra] [--quick]
# --quick: tiny and small only. The whole table takes 8 CPU-minutes (docs/memory.md holds its output).
set -euo pipefail
electra=${1:-build/electra}
quick=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Lines of 200 random vocabulary words: every feature is data.max_seq_length tokens long.
python3 - "$here/examples/electra-nsmc-tiny/vocab.txt" "$work/data" <<'EOF'
import os, random, sys
vocab, out = sys.argv[1:3]
words = [w.strip() for w in open(vocab, encoding="utf-8") if w.strip() and not w.startswith("[") and not w.startswith("##")]
rng = random.Random(7)
os.makedirs(out, exist_ok=True)
for name, rows in (("ratings_train.txt", 256), ("ratings_test.txt", 64)):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        f.write("id\tdocument\tlabel\n")
        for i in range(rows):
            f.write(f"{i}\t{' '.join(rng.choice(words) for _ in range(200))}\t{i % 2}\n")
EOF

shapes="tiny small base"
[ "$quick" = "--quick" ] && shapes="tiny small"
for shape in $shapes; do
  "$electra" init --config "$shape" --vocab "$here/examples/electra-nsmc-tiny" --output "$work/$shape" --cased >/dev/null
done
for shape in tiny small; do
  cp -r "$work/$shape" "$work/$shape-nodrop"
  python3 - "$work/$shape-nodrop/config.json" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1]))
config["attention_probs_dropout_prob"] = 0.0
json.dump(config, open(sys.argv[1], "w"), indent=2)
EOF
done

"$electra" version | grep -o "fast paths: [^;]*"
printf '%-12s %6s %6s %6s %12s %12s %7s\n' shape batch eval length estimate "peak RSS" ratio
run() {  # shape micro-batch eval-batch length
  local shape=$1 batch=$2 eval=$3 length=$4 out
  cat >"$work/config.yaml" <<EOF
model: $work/$shape
task: nsmc
device: cpu
data: {data_dir: $work/data, max_seq_length: $length}
train: {max_steps: 2, batch_size: $batch, eval_batch_size: $eval, eval_each_epoch: false, save_every: 0,
        logging_every: 1}
EOF
  rm -rf "$work/run"
  out=$(/usr/bin/time -f "peak_kb %M" "$electra" --threads 2 finetune --config "$work/config.yaml" \
          --output-dir "$work/run" 2>&1) || { echo "$out" | tail -3; return 1; }
  python3 - "$shape" "$batch" "$eval" "$length" <<EOF
import re, sys
out = """$out"""
shape, batch, evalb, length = sys.argv[1:5]
m = re.search(r"memory: peak ([0-9.]+) (GB|MB)", out)
estimate = float(m.group(1)) * (1e9 if m.group(2) == "GB" else 1e6)
peak = int(re.search(r"peak_kb (\d+)", out).group(1)) * 1024
print(f"{shape:<12} {batch:>6} {evalb:>6} {length:>6} {estimate / 1e6:>9.0f} MB {peak / 1e6:>9.0f} MB {estimate / peak:>7.2f}")
EOF
}
run tiny 8 8 128
run tiny 32 32 128
run tiny 128 128 128
run tiny 16 16 512
run tiny 64 64 512
run small 8 8 128
run small 32 32 128
run small 8 8 512
run tiny-nodrop 16 16 512
run tiny-nodrop 64 64 512
run small-nodrop 8 8 512
run small-nodrop 32 32 512
if [ "$quick" != "--quick" ]; then
  run base 2 2 128
  run base 8 8 128
fi
