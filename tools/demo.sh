#!/usr/bin/env bash
# `make demo`: fine-tunes the shipped tiny ELECTRA on the shipped sample of real NSMC reviews, scores the selected model
# with `electra eval`, and prints the metrics, the run directory and the command for the real model and data.
set -euo pipefail
electra="$(realpath "${1:-build/electra}")"
cd "$(dirname "$0")/.."

run_dir="runs/demo/nsmc-$(date -u +%Y%m%d-%H%M%S)"
start_ms=$(( $(date +%s%N) / 1000000 ))
echo "== electra finetune --config configs/demo/nsmc.yaml --output-dir $run_dir"
"$electra" finetune --config configs/demo/nsmc.yaml --output-dir "$run_dir"
echo
echo "== electra eval --model $run_dir/best --task nsmc --split test --data-dir examples/data/nsmc-reviews"
"$electra" eval --model "$run_dir/best" --task nsmc --split test --data-dir examples/data/nsmc-reviews \
  --max-seq-length 64 --output-dir "$run_dir/eval-test"
elapsed_ms=$(( $(date +%s%N) / 1000000 - start_ms ))

echo
printf 'demo finished in %d.%01d s\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
echo "run directory: $run_dir (config.yaml, metrics.jsonl, results.json, predictions_*.txt, best/)"
echo "the same config on the real model and data (tunib/electra-ko-en-small, the full NSMC):"
echo "  $electra finetune --config configs/korean/nsmc.yaml"
