#!/usr/bin/env bash
# Pre-training throughput: `electra pretrain`'s step against the same step in PyTorch eager
# (bench/pretrain_step_eager.py: the same generator/discriminator pair, masking, sampling, loss, clipping and AdamW,
# written with torch.nn; Debian's python3-torch), measured in the same call, same shapes, batch, threads and vocabulary
# size, dropout off in both, every sequence 128 tokens. Prints tokens/s of both (median over the measured steps).
#   bench/pretrain_throughput.sh [ELECTRA] [SIZE: tiny|small|base] [BATCH] [STEPS] [THREADS] [DEVICE: cpu|cuda]
#   defaults: build/electra tiny 32 10 2 cpu. PYTHON: a python with torch (default: python3 if it has torch, else
#   Debian's /usr/bin/python3).
set -euo pipefail
electra="$(realpath "${1:-build/electra}")"
size="${2:-tiny}"
batch="${3:-32}"
steps="${4:-10}"
threads="${5:-2}"
device="${6:-cpu}"
warmup=2
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import torch' 2>/dev/null || python=/usr/bin/python3
"$python" -c 'import torch' 2>/dev/null || { echo "needs Debian's python3-torch (apt-get install python3-torch)"; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A corpus of real reviews (the demo sample's documents, repeated) and an 8,000-token vocabulary.
for _ in 1 2 3 4 5 6 7 8; do tail -n +2 examples/data/nsmc-reviews/ratings_train.txt | cut -f2; done > "$work/corpus.txt"
vocab=examples/tiny-electra
vocab_size=$(wc -l < "$vocab/vocab.txt")

"$electra" --threads "$threads" pretrain --config "configs/pretrain/$size.yaml" --corpus "$work/corpus.txt" \
  --vocab "$vocab" --output-dir "$work/run" --set train.max_steps=$((warmup + steps)) --set train.batch_size="$batch" \
  --set train.logging_every=1 --set train.save_every=1000000 --set data.max_seq_length=128 --set data.short_seq_prob=0 \
  --set data.single_segment_prob=0 --set device="$device" --set model.hidden_dropout_prob=0 \
  --set model.attention_probs_dropout_prob=0 \
  > "$work/electra.log" 2>&1 || { cat "$work/electra.log"; exit 1; }
electra_tps=$("$python" - "$work/run/metrics.jsonl" "$warmup" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
tps = sorted(l["tokens_per_second"] for l in lines if l["step"] > int(sys.argv[2]))
print(round(tps[len(tps) // 2]))
PY
)
eager=$("$python" bench/pretrain_step_eager.py --size "$size" --vocab "$vocab_size" --batch "$batch" --seq 128 \
  --steps "$steps" --warmup "$warmup" --threads "$threads" --device "$device")
eager_tps=$(echo "$eager" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
echo "ELECTRA pre-training step, $size, batch $batch x 128, vocabulary $vocab_size, $threads threads, $device, dropout off:"
echo "  electra pretrain : $electra_tps tokens/s (median of $steps steps after $warmup)"
echo "  PyTorch eager    : $eager_tps tokens/s ($eager)"
echo "  ratio electra / eager: $("$python" -c "print(round($electra_tps / $eager_tps, 2))")"
