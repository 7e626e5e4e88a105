// Reference WordPiece vocabulary from Hugging Face tokenizers itself (its Node bindings), for comparing with
// `electra vocab`. Needs the npm package `tokenizers` (0.23.2 ships a prebuilt linux-x64-gnu binary), installed
// outside the repository:
//   mkdir -p /tmp/tok-node && (cd /tmp/tok-node && npm install tokenizers@0.23.2)
//   node tools/vocab_reference.js --modules /tmp/tok-node/node_modules --size 8000 [--no-lowercase]
//        [--strip-accents|--no-strip-accents] --output vocab.txt CORPUS...
//
// The Node bindings train only with the model's default WordPieceTrainer: vocab_size 30000, min_frequency 0, no
// limit_alphabet, no special tokens (prefix "##", as BertWordPieceTokenizer). BertWordPieceTokenizer.train with
// vocab_size N, min_frequency 0 and limit_alphabet None gives the same merges with the five special tokens in front
// (ids shifted by 5 keep every tie-break), and merges come in order, so its vocabulary is
// [PAD] [UNK] [CLS] [SEP] [MASK] + the first N - 5 tokens of this run (N <= 30005). Compare with
// `electra vocab --min-frequency 0 --limit-alphabet 0`.
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
let modules = null, size = 30005, lowercase = true, stripAccents = null, output = null;
const corpus = [];
for (let i = 0; i < args.length; ++i) {
  const a = args[i];
  if (a === '--modules') modules = args[++i];
  else if (a === '--size') size = parseInt(args[++i], 10);
  else if (a === '--lowercase') lowercase = true;
  else if (a === '--no-lowercase') lowercase = false;
  else if (a === '--strip-accents') stripAccents = true;
  else if (a === '--no-strip-accents') stripAccents = false;
  else if (a === '--output') output = args[++i];
  else corpus.push(a);
}
if (!output || corpus.length === 0 || !(size > 5) || size > 30005) {
  console.error('usage: vocab_reference.js [--modules DIR] --size N (6..30005) [--no-lowercase] ' +
                '[--strip-accents|--no-strip-accents] --output vocab.txt CORPUS...');
  process.exit(2);
}
const t = require(modules ? path.join(path.resolve(modules), 'tokenizers') : 'tokenizers');
const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const tokenizer = new t.Tokenizer(t.WordPiece.init({}, { unkToken: '[UNK]' }));
tokenizer.setNormalizer(t.bertNormalizer({
  cleanText: true, handleChineseChars: true,
  stripAccents: stripAccents === null ? lowercase : stripAccents, lowercase,
}));
tokenizer.setPreTokenizer(t.bertPreTokenizer());
const started = Date.now();
tokenizer.train(corpus);
const seconds = (Date.now() - started) / 1000;
const vocab = Object.entries(tokenizer.getVocab(false)).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
const tokens = specials.concat(vocab.slice(0, size - specials.length));
fs.writeFileSync(output, tokens.join('\n') + '\n');
console.error(`tokenizers: ${vocab.length} tokens trained in ${seconds.toFixed(2)} s; wrote ${tokens.length} to ${output}`);
