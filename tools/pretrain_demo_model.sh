#!/usr/bin/env bash
# Makes the demo's pre-trained tiny ELECTRA (examples/electra-nsmc-tiny, docs/pretraining.md, learning test) from
# NSMC's *train* documents only (CC0; never its test documents, on which the demo reports):
#   1. the document column of ratings_train.txt, empty documents left out, one review per line;
#   2. electra vocab: an 8,000-token cased WordPiece vocabulary of it (tokenizers' BertWordPieceTokenizer rules);
#   3. electra pretrain --prepare: the reviews as binary shards (one review per example, 64 positions);
#   4. electra pretrain --config configs/pretrain/nsmc-tiny.yaml on the shards: the ELECTRA objective (about 40 min
#      on two CPU cores);
#   5. the exported discriminator (ElectraForPreTraining, Hugging Face layout) copied to the output folder.
#   tools/pretrain_demo_model.sh [ELECTRA] [NSMC_RATINGS_TRAIN_TXT] [OUTPUT_DIR] [EXTRA electra pretrain FLAGS...]
#   defaults: build/electra ../shared/real-data/nsmc/ratings_train.txt examples/electra-nsmc-tiny
set -euo pipefail
electra="$(realpath "${1:-build/electra}")"
ratings="$(realpath "${2:-../shared/real-data/nsmc/ratings_train.txt}")"
output="${3:-examples/electra-nsmc-tiny}"
shift $(( $# < 3 ? $# : 3 ))
cd "$(dirname "$0")/.."
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"

tail -n +2 "$ratings" | cut -f2 | awk 'length($0) > 0' > "$work/corpus.txt"
echo "corpus: $(wc -l < "$work/corpus.txt") train documents, $(wc -c < "$work/corpus.txt") bytes"
"$electra" vocab --corpus "$work/corpus.txt" --size 8000 --no-lowercase --output "$work/vocab" --force
"$electra" pretrain --prepare "$work/shards" --corpus "$work/corpus.txt" --vocab "$work/vocab" \
  --config configs/pretrain/nsmc-tiny.yaml
"$electra" pretrain --config configs/pretrain/nsmc-tiny.yaml --corpus "$work/shards" --vocab "$work/vocab" \
  --output-dir "$work/run" "$@"
rm -rf "$output.tmp" && mkdir -p "$output.tmp"
cp "$work/run/discriminator/"* "$output.tmp/"
cp "$work/run/config.yaml" "$output.tmp/pretrain_config.yaml"
tail -1 "$work/run/metrics.jsonl" > "$output.tmp/pretrain_last_metrics.json"
cat > "$output.tmp/README.md" <<README
# electra-nsmc-tiny

A tiny ELECTRA discriminator (ElectraForPreTraining, Hugging Face layout: E32 H64 L2 A4 I128, 64 positions, an
8,000-token cased WordPiece vocabulary) that \`electra pretrain\` trained on NSMC's train documents only
($(wc -l < "$work/corpus.txt") non-empty reviews of ratings_train.txt, CC0; never the test documents), made by
\`tools/pretrain_demo_model.sh\` with \`configs/pretrain/nsmc-tiny.yaml\` (pretrain_config.yaml here is the resolved
config, pretrain_last_metrics.json the run's last metrics line). The demo (\`make demo\`, configs/demo/nsmc.yaml)
fine-tunes it; docs/pretraining.md gives its learning test against random initialisation.
README
rm -rf "$output" && mv "$output.tmp" "$output"
echo "wrote $output (pre-training run kept in $work/run)"
