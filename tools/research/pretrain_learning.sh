#!/usr/bin/env bash
# The learning test of pre-training (docs/pretraining.md): fine-tunes a model that `electra pretrain` made and the
# same shape from random initialisation (`electra init` with its config.json and vocabulary) on the demo's real NSMC
# sample with the demo's config (configs/demo/nsmc.yaml), for each seed given, and prints both test accuracies.
# Any further arguments are `electra finetune --set` assignments applied to both fine-tunes.
#   tools/research/pretrain_learning.sh [ELECTRA] [PRETRAINED_DIR] [SEEDS] [KEY=VALUE...]
#   defaults: build/electra examples/electra-nsmc-tiny "42"
#   e.g. tools/research/pretrain_learning.sh build/electra runs/pt/discriminator "42 43" optimizer.learning_rate=3e-4
#   on the demo's first 1,000 train reviews, as many steps as the demo's:
#   tools/research/pretrain_learning.sh build/electra examples/electra-nsmc-tiny "42 43 44" data.max_train_examples=1000 train.epochs=16
set -euo pipefail
electra="$(realpath "${1:-build/electra}")"
pretrained="$(realpath "${2:-examples/electra-nsmc-tiny}")"
seeds="${3:-42}"
shift $(( $# < 3 ? $# : 3 ))
overrides=()
for assignment in "$@"; do overrides+=(--set "$assignment"); done
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$electra" init --config "$pretrained/config.json" --vocab "$pretrained" --output "$work/random" --seed 42 >/dev/null
accuracy() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["split_metrics"]["test"]["accuracy"])' "$1"; }
printf '%-12s %-6s %s\n' model seed "test accuracy (examples/data/nsmc-reviews, 1,000 real test reviews)"
for seed in $seeds; do
  for kind in pretrained random; do
    model="$pretrained"
    [ "$kind" = random ] && model="$work/random"
    "$electra" finetune --config configs/demo/nsmc.yaml --model "$model" --set "seeds=[$seed]" "${overrides[@]}" \
      --output-dir "$work/$kind-$seed" >"$work/$kind-$seed.log" 2>&1 || { cat "$work/$kind-$seed.log"; exit 1; }
    printf '%-12s %-6s %s\n' "$kind" "$seed" "$(accuracy "$work/$kind-$seed/results.json")"
  done
done
