#!/usr/bin/env python3
"""Hugging Face tokenizers' behaviour (its Python package, .venv) on every Unicode scalar value, as BERT's normalizer
and pre-tokenizer see it: one line per code point that is not left alone,
  <hex cp> TAB <bits: 1 dropped by clean_text, 2 whitespace, 4 CJK padded, 8 punctuation split>
           TAB <lowercased, hex code points; empty: unchanged> TAB <accents stripped: hex; "=" unchanged; "" removed>

usage: .venv/bin/python tools/unicode/tokenizers_reference.py OUT.tsv
"""
import sys

from tokenizers import normalizers, pre_tokenizers


def main():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)
    chinese = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False,
                                         lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                       lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()

    def hexes(s):
        return " ".join(f"{ord(ch):x}" for ch in s)

    out = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:  # not scalar values
            continue
        c = chr(cp)
        bits = 0
        cl = clean.normalize_str("a" + c + "b")
        if cl == "ab":
            bits |= 1
        elif cl == "a b":
            bits |= 2
        if chinese.normalize_str(c) == " " + c + " ":
            bits |= 4
        if not bits & 3 and len(pre.pre_tokenize_str("a" + c + "b")) == 3:
            bits |= 8
        s, lo = strip.normalize_str(c), lower.normalize_str(c)
        if bits or s != c or lo != c:
            out.append(f"{cp:x}\t{bits}\t{hexes(lo) if lo != c else ''}\t{hexes(s) if s != c else '='}")
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(len(out))


if __name__ == "__main__":
    main()
