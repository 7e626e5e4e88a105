#!/usr/bin/env bash
# SIGKILL-and-resume at random points (docs/reliability.md):
#   tools/checks/crash_resume_bench.sh [ELECTRA_BINARY] [TRIALS] [SEED]      (defaults: build/electra 20 1)
# Fine-tunes the shipped tiny model on the shipped NSMC sample once without interruption, then TRIALS times: starts
# the same run, kills it with SIGKILL at a random moment (uniform over the uninterrupted run's duration), kills the
# resumed run once more the same way, then resumes (or restarts, when no state was saved yet) until it finishes, and
# compares best/model.safetensors, predictions_test.txt and the metrics with the uninterrupted run's. Then once per
# crash point (ELECTRA_CRASH_AT, inside the checkpoint writes). Exit status 0 only when every trial matches.
set -euo pipefail
electra="$(realpath "${1:-build/electra}")"
trials="${2:-20}"
RANDOM="${3:-1}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/electra_crash_bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cat >"$work/exp.yaml" <<EOF
model: $src/examples/tiny-electra
task: nsmc
device: cpu
data:
  data_dir: $src/examples/data/nsmc
  max_seq_length: 64
  bucket_multiple: 16
  dev_from_train: 0.1
optimizer:
  learning_rate: 1e-3
train:
  epochs: 2
  batch_size: 32
  eval_every: 5
  logging_every: 2
  save_every: 3
EOF

# One attempt of the run in $1: --resume when a state is saved, else a fresh start. Extra words: a command prefix.
attempt() {
  local run="$1"
  shift
  if [ -f "$run/state/latest.json" ]; then
    "$@" "$electra" --threads 1 finetune --resume "$run" >>"$run.log" 2>&1
  else
    "$@" "$electra" --threads 1 finetune --config "$work/exp.yaml" --output-dir "$run" >>"$run.log" 2>&1
  fi
}

fingerprint() {
  local run="$1"
  { sha256sum <"$run/best/model.safetensors"; sha256sum <"$run/predictions_test.txt"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps([r["metrics"], r["split_metrics"], r["best_step"], r["steps"]], sort_keys=True))' \
      "$run/results.json"; } | sha256sum | cut -c1-16
}

finish() {
  local run="$1" n=0
  while [ ! -f "$run/results.json" ]; do
    attempt "$run" || { n=$((n + 1)); [ "$n" -lt 3 ] || { echo "  $run: failed 3 times, see $run.log"; tail -5 "$run.log"; return 1; }; }
  done
}

start=$(date +%s%N)
attempt "$work/reference"
ref_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ref="$(fingerprint "$work/reference")"
echo "uninterrupted run: ${ref_ms} ms, fingerprint $ref"

same=0
kills=0
for i in $(seq 1 "$trials"); do
  run="$work/trial-$i"
  line="trial $i:"
  for k in 1 2; do
    [ -f "$run/results.json" ] && break
    ms=$(( (RANDOM * 32768 + RANDOM) % ref_ms + 1 ))
    secs="$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    if attempt "$run" timeout -s KILL "$secs"; then
      line="$line finished before the kill at ${secs}s;"
    else
      kills=$((kills + 1))
      step="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$run/state/latest.json" 2>/dev/null || echo none)"
      line="$line SIGKILL at ${secs}s (latest state: step $step);"
    fi
  done
  finish "$run"
  got="$(fingerprint "$run")"
  if [ "$got" = "$ref" ]; then same=$((same + 1)); line="$line identical"; else line="$line DIFFERENT ($got)"; fi
  echo "$line"
done

points=0
points_same=0
for point in state.data.partial:2 state.data.renamed:3 state.manifest.partial:5 state.manifest.renamed:7 \
             state.committed:4 best.saved:1 results.before; do
  run="$work/point-${point%%:*}"
  if ELECTRA_CRASH_AT="$point" attempt "$run"; then echo "crash point $point: not reached"; continue; fi
  finish "$run"
  points=$((points + 1))
  got="$(fingerprint "$run")"
  if [ "$got" = "$ref" ]; then points_same=$((points_same + 1)); echo "crash point $point: identical"
  else echo "crash point $point: DIFFERENT ($got)"; fi
done

echo "random SIGKILL: $same/$trials identical final weights ($kills kills)"
echo "crash points inside checkpoint writes: $points_same/$points identical"
[ "$same" -eq "$trials" ] && [ "$points_same" -eq "$points" ]
