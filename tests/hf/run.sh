#!/usr/bin/env bash
# make test-hf: electra against the real transformers / tokenizers (requirements.txt's pins), on the CPU.
# usage: tests/hf/run.sh PYTHON ELECTRA DATA WORK
# Each check is its own script (tests/hf/*_parity.py) with its own scratch folder under WORK; every check runs, then
# the exit status says whether all passed.
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
)
for entry in "${checks[@]}"; do
  read -r check args <<<"$entry"
  echo "== $check"
  start=$(date +%s)
  # shellcheck disable=SC2086
  if "$python" "$here/$check.py" --electra "$electra" --work "$work/$check" $args; then
    echo "== $check passed in $(( $(date +%s) - start )) s"
  else
    echo "== $check FAILED (after $(( $(date +%s) - start )) s)"
    failed+=("$check")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make test-hf: failed: ${failed[*]}"
  exit 1
fi
echo "make test-hf: all checks passed"
