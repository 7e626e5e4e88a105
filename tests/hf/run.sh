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
for check in model_parity train_parity tokenizer_parity; do
  echo "== $check"
  start=$(date +%s)
  if "$python" "$here/$check.py" --electra "$electra" --data "$data" --work "$work/$check"; then
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
