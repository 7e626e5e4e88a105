#!/usr/bin/env bash
# make test-hf: electra against the real transformers / tokenizers (requirements.txt's pins), on the CPU.
# usage: tests/hf/run.sh PYTHON ELECTRA DATA WORK
# Each check is its own script (tests/hf/*_parity.py, and bench/minilm_sst2.py in its small form: a real pretrained
# BERT fine-tuned on real SST-2 by electra and by transformers' Trainer) with its own scratch folder under WORK; every
# check runs, then the exit status says whether all passed.
set -uo pipefail
python=$1; electra=$2; data=$3; work=$4
[ -x "$electra" ] || { echo "tests/hf/run.sh: $electra is not an executable electra"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"; mkdir -p "$work"
failed=()
# name and arguments of each check (model_parity writes its own checkpoints and needs no data)
checks=(
  "model_parity"
  "train_parity --data $data"
  "tokenizer_parity --data $data"
  "pipeline_parity --data $data"
  "vocab_parity --data $data"
  "../../bench/minilm_sst2 --glue $data/glue --train-rows 1000 --epochs 2 --seeds 42 --check"
)
for entry in "${checks[@]}"; do
  read -r check args <<<"$entry"
  name=$(basename "$check")
  echo "== $name"
  start=$(date +%s)
  # shellcheck disable=SC2086
  if "$python" "$here/$check.py" --electra "$electra" --work "$work/$name" $args; then
    echo "== $name passed in $(( $(date +%s) - start )) s"
  else
    echo "== $name FAILED (after $(( $(date +%s) - start )) s)"
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make test-hf: failed: ${failed[*]}"
  exit 1
fi
echo "make test-hf: all checks passed"
