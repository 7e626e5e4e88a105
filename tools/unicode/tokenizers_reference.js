// Hugging Face tokenizers' (Rust, through its Node bindings) behaviour on every Unicode scalar value, as BERT's
// normalizer and pre-tokenizer see it: one line per code point that is not left alone,
//   <hex cp> TAB <bits: 1 dropped by clean_text, 2 whitespace, 4 CJK padded, 8 punctuation split>
//            TAB <lowercased, hex code points; empty: unchanged> TAB <accents stripped: hex; "=" unchanged; "" removed>
// usage: node tokenizers_reference.js NODE_MODULES_DIR OUT.tsv    (npm install tokenizers@0.23.2 into NODE_MODULES_DIR/..)
const t = require(require("path").resolve(process.argv[2], "tokenizers"));
const clean = t.bertNormalizer({cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false});
const chinese = t.bertNormalizer({cleanText: false, handleChineseChars: true, stripAccents: false, lowercase: false});
const strip = t.bertNormalizer({cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false});
const lower = t.bertNormalizer({cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true});
const pre = t.bertPreTokenizer();
const out = [];
for (let cp = 0; cp <= 0x10FFFF; cp++) {
  if (cp >= 0xD800 && cp <= 0xDFFF) continue;
  const c = String.fromCodePoint(cp);
  let bits = 0;
  const cl = clean.normalizeString("a" + c + "b");
  if (cl === "ab") bits |= 1;
  else if (cl === "a b") bits |= 2;
  if (chinese.normalizeString(c) === " " + c + " ") bits |= 4;
  if (!(bits & 3)) {
    const p = pre.preTokenizeString("a" + c + "b");
    if (p.length === 3) bits |= 8;
  }
  const s = strip.normalizeString(c), l = lower.normalizeString(c);
  const hex = (x) => Array.from(x).map((ch) => ch.codePointAt(0).toString(16)).join(" ");
  if (bits || s !== c || l !== c) out.push(cp.toString(16) + "\t" + bits + "\t" + (l !== c ? hex(l) : "") + "\t" + (s !== c ? hex(s) : "=" ));
}
require("fs").writeFileSync(process.argv[3], out.join("\n") + "\n");
console.log(out.length);
