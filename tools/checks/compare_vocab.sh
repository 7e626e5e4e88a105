#!/usr/bin/env bash
# Compares `electra vocab` with Hugging Face tokenizers' BertWordPieceTokenizer.train (tools/checks/vocab_reference.py, the
# Python package in .venv) on real text: set overlap |A∩B|/|A|, identical order, identical order once the choices
# tokenizers takes from hash-map order are given (--continuation-order-from: its "##c" order and the characters it
# kept among those tied at the alphabet limit), and tokens per character of both vocabularies on held-out text
# (electra's Tokenizer). Settings: tokenizers' defaults, min_frequency 2 and limit_alphabet 1000 (env MIN_FREQUENCY,
# LIMIT_ALPHABET; 0 = no limit); tests/hf/vocab_parity.py is the pass/fail check of `make test-hf`.
#   make venv   # .venv from requirements.txt (tokenizers 0.23.1)
#   bash tools/checks/compare_vocab.sh [build/electra]      # env: PYTHON (.venv/bin/python), DATA, LARGE=0
set -euo pipefail
cd "$(dirname "$0")/../.."
electra=${1:-build/electra}
python=${PYTHON:-.venv/bin/python}
data=${DATA:-/work/shared/real-data}
min_frequency=${MIN_FREQUENCY:-2}
limit_alphabet=${LIMIT_ALPHABET:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Corpora: the document column of NSMC (examples/ sample and the full 150,000 rows), SST-2 sentences.
cut -f2 examples/data/nsmc-reviews/ratings_train.txt | tail -n +2 >"$work/nsmc_small.txt"
cut -f2 examples/data/nsmc-reviews/ratings_test.txt | tail -n +2 >"$work/nsmc_heldout.txt"
have_large=0
if [ -f "$data/nsmc/ratings_train.txt" ] && [ "${LARGE:-1}" = 1 ]; then
  cut -f2 "$data/nsmc/ratings_train.txt" | tail -n +2 >"$work/nsmc_large.txt"
  have_large=1
fi
have_sst=0
if [ -f "$data/glue/SST-2/train.tsv" ]; then
  cut -f1 "$data/glue/SST-2/train.tsv" | tail -n +2 >"$work/sst2.txt"
  cut -f1 "$data/glue/SST-2/dev.tsv" | tail -n +2 >"$work/sst2_heldout.txt"
  have_sst=1
fi

# Tokens per character of held-out text under a tokenizer directory (electra's Tokenizer).
tokens_per_char() {  # dir heldout
  python3 - "$2" >"$work/heldout.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    print(json.dumps({"text": line.rstrip("\n")}, ensure_ascii=False))
PY
  "$electra" tokenize --model "$1" --input "$work/heldout.jsonl" --max-length 65536 --truncation none \
    --output "$work/heldout.out"
  python3 - "$work/heldout.jsonl" "$work/heldout.out" <<'PY'
import json, sys
chars = sum(len(json.loads(l)["text"]) for l in open(sys.argv[1], encoding="utf-8"))
tokens = sum(len(json.loads(l)["tokens"]) - 2 for l in open(sys.argv[2], encoding="utf-8"))
print(f"{tokens / chars:.4f}")
PY
}

printf '%-11s %-6s %6s | %-8s %-9s %-12s %-8s | %-8s %-8s | %s\n' corpus case size overlap same_order \
  "same_w/order" hf_rerun tpc_hf tpc_ours "electra words/s; tokenizers train s"
compare() {  # name corpus heldout size case
  local name=$1 corpus=$2 heldout=$3 size=$4 case=$5 flag=""
  [ "$case" = cased ] && flag=--no-lowercase
  local d="$work/$name-$case-$size"
  mkdir -p "$d/hf"
  local settings="--min-frequency $min_frequency --limit-alphabet $limit_alphabet"
  "$python" tools/checks/vocab_reference.py --size "$size" $flag $settings --output "$d/hf/vocab.txt" "$corpus" \
    2>"$d/hf.log" >/dev/null
  mkdir -p "$d/hf2"  # tokenizers again: its "##c" order comes from a hash map, so runs differ from each other
  "$python" tools/checks/vocab_reference.py --size "$size" $flag $settings --output "$d/hf2/vocab.txt" "$corpus" \
    2>/dev/null >/dev/null
  local hf_s
  hf_s=$(sed -n 's/.*trained in \([0-9.]*\) s.*/\1/p' "$d/hf.log")
  python3 - "$d/hf" "$case" <<'PY'
import json, sys
lower = sys.argv[2] == "lower"
json.dump({"do_lower_case": lower, "strip_accents": None, "tokenize_chinese_chars": True}, open(sys.argv[1] + "/tokenizer_config.json", "w"))
PY
  "$electra" vocab --corpus "$corpus" --size "$size" $flag $settings --output "$d/ours" >"$d/ours.log"
  "$electra" vocab --corpus "$corpus" --size "$size" $flag $settings \
    --continuation-order-from "$d/hf/vocab.txt" --output "$d/ordered" >/dev/null
  local wps
  wps=$(sed -n 's/.* s: \([0-9]*\) words\/s.*/\1/p' "$d/ours.log")
  local stats
  stats=$(python3 - "$d/hf/vocab.txt" "$d/ours/vocab.txt" "$d/ordered/vocab.txt" "$d/hf2/vocab.txt" <<'PY'
import sys
hf, ours, ordered, hf2 = ([l.rstrip("\n") for l in open(p, encoding="utf-8")] for p in sys.argv[1:])
overlap = len(set(hf) & set(ours)) / len(set(ours))
rerun = len(set(hf) & set(hf2)) / len(set(hf2))
print(f"{overlap:.4f} {'yes' if hf == ours else 'no'} {'yes' if hf == ordered else 'no'} {rerun:.4f}")
PY
)
  read -r overlap same same_ordered rerun <<<"$stats"
  printf '%-11s %-6s %6s | %-8s %-9s %-12s %-8s | %-8s %-8s | %s; %s\n' "$name" "$case" "$size" "$overlap" \
    "$same" "$same_ordered" "$rerun" "$(tokens_per_char "$d/hf" "$heldout")" "$(tokens_per_char "$d/ours" "$heldout")" \
    "$wps" "$hf_s"
}

# Cased Korean keeps whole syllables: without an alphabet limit its initial vocabulary (alphabet + "##c") alone is
# over 2,600 tokens.
for size in 2000 8000; do compare nsmc-small "$work/nsmc_small.txt" "$work/nsmc_heldout.txt" "$size" lower; done
for size in 4000 8000; do compare nsmc-small "$work/nsmc_small.txt" "$work/nsmc_heldout.txt" "$size" cased; done
if [ "$have_sst" = 1 ]; then
  for size in 2000 8000; do compare sst2 "$work/sst2.txt" "$work/sst2_heldout.txt" "$size" lower; done
fi
if [ "$have_large" = 1 ]; then
  for size in 8000 30000; do compare nsmc-large "$work/nsmc_large.txt" "$work/nsmc_heldout.txt" "$size" cased; done
  compare nsmc-large "$work/nsmc_large.txt" "$work/nsmc_heldout.txt" 30000 lower
fi
echo "overlap = |A∩B|/|A| (A = electra's vocabulary); same_order: identical files; same_w/order: identical once"
echo "electra takes tokenizers' hash-map-order choices (--continuation-order-from: the '##c' order and the characters"
echo "kept among those tied at the alphabet limit); hf_rerun: overlap of two tokenizers runs; tpc = tokens per"
echo "character on held-out text (min_frequency $min_frequency, limit_alphabet $limit_alphabet)"
