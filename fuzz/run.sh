#!/usr/bin/env bash
# Runs the fuzz targets of BUILD_DIR one after the other for SECONDS each, seeded from fuzz/corpus/<target>,
# new corpus units written to SCRATCH/corpus/<target> (not into the repository) and findings to
# SCRATCH/findings/<target>/. With FUZZ_RUNS=N a target also stops after N executions (whichever comes first).
# Prints executions, corpus size and findings per target; exits 1 when any target found something.
# Usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (make fuzz SECONDS=N [RUNS=N] [FUZZ_TARGETS=...])
set -u
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
scratch=${FUZZ_SCRATCH:-$build/fuzz-scratch}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz_*; do [ -x "$f" ] && targets+=("${f##*/fuzz_}"); done
fi

dict_of() {
  case $1 in
    safetensors) echo safetensors ;;
    pytorch_bin | pickle) echo pickle ;;
    config_json | results_json | task_qa) echo json ;;
    experiment_yaml) echo yaml ;;
    task_tsv | task_glue | task_ner | score) echo tsv ;;
    hub_http) echo http ;;
  esac
}

# The file-reading targets write their input to a scratch file per execution: tmpfs makes that 10x faster. libFuzzer
# ends without running atexit handlers, so the targets' scratch folders live in one folder removed at the end.
tmp_root=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp_root=/dev/shm; fi
export TMPDIR=$(mktemp -d "$tmp_root/electra-fuzz.XXXXXX")
trap 'rm -rf "$TMPDIR"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=()
for t in "${targets[@]}"; do
  bin=$build/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz/run.sh: no target $bin" >&2; exit 2; }
  mkdir -p "$scratch/corpus/$t" "$scratch/findings/$t"
  log=$scratch/$t.log
  dict=$(dict_of "$t")
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=20 -max_len=65536
        -print_final_stats=1 -artifact_prefix="$scratch/findings/$t/")
  [ -n "$dict" ] && args+=(-dict="fuzz/dict/$dict.dict")
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  echo "== $t: $seconds s${FUZZ_RUNS:+ or $FUZZ_RUNS executions}"
  start=$(date +%s)
  "$bin" "${args[@]}" "$scratch/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  corpus=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
  findings=$(find "$scratch/findings/$t" -type f | wc -l)
  line=$(printf '%-16s %4ss  executions %10s  corpus %12s  findings %s  (exit %s)' \
         "$t" "$took" "${execs:-?}" "${corpus:-?}" "$findings" "$rc")
  echo "$line"
  summary+=("$line")
  if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
    status=1
    grep -m3 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log" | sed 's/^/    /'
    echo "    log: $log; findings: $scratch/findings/$t/"
  fi
done
echo
echo "== fuzz summary ($seconds s${FUZZ_RUNS:+ or $FUZZ_RUNS executions} per target; corpus = units/bytes)"
printf '%s\n' "${summary[@]}"
exit $status
