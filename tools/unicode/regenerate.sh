#!/usr/bin/env bash
# Regenerates tokenizer/unicode_tokenizers_table.inc and the test sample, then checks that electra now matches
# tokenizers on every code point. Needs Hugging Face tokenizers' Python package (`make venv`: .venv from
# requirements.txt, or PYTHON=/path/to/python with tokenizers installed) and libutf8proc-dev.
#   bash tools/unicode/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
python=${PYTHON:-.venv/bin/python}
version=$("$python" -c 'import tokenizers; print(tokenizers.__version__)')
"$python" tools/unicode/tokenizers_reference.py "$work/tokenizers.tsv" >/dev/null
g++ -std=c++17 -O2 -I. -DELECTRA_UNICODE_UTF8PROC_ONLY tools/unicode/electra_probe.cpp tokenizer/unicode.cpp \
  -lutf8proc -o "$work/probe_utf8proc_only"
"$work/probe_utf8proc_only" >"$work/utf8proc_only.tsv"
python3 tools/unicode/make_table.py "$work/tokenizers.tsv" "$work/utf8proc_only.tsv" tokenizer/unicode_tokenizers_table.inc \
  "$version"
g++ -std=c++17 -O2 -I. tools/unicode/electra_probe.cpp tokenizer/unicode.cpp -lutf8proc -o "$work/probe"
"$work/probe" >"$work/electra.tsv"
if cmp -s "$work/tokenizers.tsv" "$work/electra.tsv"; then
  echo "electra matches tokenizers on all 1,112,064 scalar values"
else
  diff "$work/tokenizers.tsv" "$work/electra.tsv" | head -20; exit 1
fi
# The test sample: every code point the table names, and every 20th line of the reference.
python3 - "$work/tokenizers.tsv" tokenizer/unicode_tokenizers_table.inc tests/fixtures/tokenizer/unicode_reference_sample.tsv <<'PY'
import re, sys
ref = open(sys.argv[1], encoding="utf-8").read().splitlines()
named = {int(x, 16) for x in re.findall(r"0x([0-9A-F]+)", open(sys.argv[2]).read())}
keep = [line for i, line in enumerate(ref) if i % 20 == 0 or int(line.split("\t")[0], 16) in named]
# code points tokenizers leaves alone are in the sample too (absent from the reference): every 997th
listed = {int(line.split("\t")[0], 16) for line in ref}
keep += [f"{cp:x}\t0\t\t=" for cp in range(0, 0x110000, 997) if cp not in listed and not 0xD800 <= cp <= 0xDFFF]
keep.sort(key=lambda line: int(line.split("\t")[0], 16))
open(sys.argv[3], "w", encoding="utf-8").write("\n".join(keep) + "\n")
print(f"sample: {len(keep)} code points")
PY
rm -rf "$work"
