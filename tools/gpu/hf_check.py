#!/usr/bin/env python3
"""Checks that Python `transformers` loads a checkpoint written by `electra finetune` and computes what electra
computes: same tokens (AutoTokenizer from the saved folder) and the same logits (AutoModelForSequenceClassification)
as `electra predict` on the same texts, both on CPU in fp32.

usage: hf_check.py ELECTRA_BINARY MODEL_DIR TEXTS.tsv [--limit 64] [--max-length 64] [--json FILE]
TEXTS.tsv is in NSMC's format (id, document, label; a header line). Exit status 1 on any mismatch.
"""
import argparse
import json
import subprocess
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("electra")
    p.add_argument("model_dir")
    p.add_argument("texts")
    p.add_argument("--limit", type=int, default=64)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--json")
    a = p.parse_args()

    with open(a.texts, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    texts = [r[1] for r in rows if len(r) == 3][: a.limit]

    lines = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    out = subprocess.run([a.electra, "predict", "--model", a.model_dir, "--input", "-", "--device", "cpu",
                          "--max-length", str(a.max_length), "--batch-size", "16"],
                         input=lines.encode(), capture_output=True, check=True)
    ours = [json.loads(line)["logits"] for line in out.stdout.decode().splitlines() if line.strip()]

    tokenizer = AutoTokenizer.from_pretrained(a.model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(a.model_dir).eval()
    theirs = []
    with torch.no_grad():
        for t in texts:
            enc = tokenizer(t, truncation=True, max_length=a.max_length, return_tensors="pt")
            theirs.append(model(**enc).logits[0].tolist())

    diffs = [max(abs(x - y) for x, y in zip(o, h)) for o, h in zip(ours, theirs)]
    scale = max(abs(v) for row in theirs for v in row)
    result = {"texts": len(texts), "electra_rows": len(ours), "tokenizer_class": type(tokenizer).__name__,
              "model_class": type(model).__name__, "max_abs_diff": max(diffs) if diffs else None,
              "max_abs_logit": scale, "id2label": model.config.id2label,
              "argmax_agree": sum(int(max(range(len(o)), key=o.__getitem__) == max(range(len(h)), key=h.__getitem__))
                                  for o, h in zip(ours, theirs))}
    ok = len(ours) == len(texts) and diffs and max(diffs) <= 1e-4 * max(1.0, scale)
    result["ok"] = bool(ok)
    print(json.dumps(result, ensure_ascii=False))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
