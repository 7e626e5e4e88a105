#!/usr/bin/env python3
"""Hugging Face `tokenizers` baseline for bench/tokenizer_bench on the same machine, corpus and vocabulary:
BertWordPieceTokenizer (cased, no accent stripping) encode_batch over the corpus repeated to --mb megabytes,
tokens counted with [CLS]/[SEP]. Set RAYON_NUM_THREADS=1 for the one-thread figure.

usage: hf_tokenizer_baseline.py VOCAB CORPUS [--mb 12] [--repeat 3]
"""
import argparse
import os
import time

from tokenizers import BertWordPieceTokenizer

p = argparse.ArgumentParser()
p.add_argument("vocab")
p.add_argument("corpus")
p.add_argument("--mb", type=float, default=12.0)
p.add_argument("--repeat", type=int, default=3)
a = p.parse_args()
lines = [l.rstrip("\n") for l in open(a.corpus, encoding="utf-8")]
size = sum(len(l.encode()) + 1 for l in lines)
corpus = lines * max(1, int(a.mb * 1e6 // size))
mb = sum(len(l.encode()) + 1 for l in corpus) / 1e6
tok = BertWordPieceTokenizer(a.vocab, clean_text=True, handle_chinese_chars=True, lowercase=False, strip_accents=False)
best = None
for _ in range(a.repeat):
    t0 = time.time()
    enc = tok.encode_batch(corpus)
    dt = time.time() - t0
    best = dt if best is None else min(best, dt)
ntok = sum(len(e.ids) for e in enc)
print(f"tokenizers encode_batch, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'all')}: {len(corpus)} lines, "
      f"{mb:.1f} MB, {ntok} tokens, best of {a.repeat}: {best:.2f} s = {ntok / best / 1e6:.2f} M tokens/s, "
      f"{mb / best:.1f} MB/s")
