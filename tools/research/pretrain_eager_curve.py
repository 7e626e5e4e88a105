#!/usr/bin/env python3
"""The ELECTRA pre-training curve in PyTorch eager, for setting beside `electra pretrain`'s metrics.jsonl.

Trains bench/pretrain_step_eager.py's pair (torch.nn, Hugging Face's modules, dropout off) on the examples of a
folder that `electra pretrain --prepare` wrote, with electra's masking (per example k = min(max_predictions,
max(1, round(0.15 n))) positions drawn without replacement among the non-special tokens, 85 % of them [MASK]),
sampling, loss (MLM + lambda RTD), clipping and AdamW (weight decay off for biases and LayerNorm), linear warmup then
linear decay; prints the window means every --log steps, as electra's log does. docs/pretraining.md (learning test)
uses it to tell an implementation error from a budget one.

    electra pretrain --prepare SHARDS --corpus corpus.txt --vocab VOCAB --config configs/pretrain/nsmc-tiny.yaml
    python3 tools/research/pretrain_eager_curve.py SHARDS --steps 400 --lr 1e-3 --warmup 200 --total 4000
    python3 tools/research/pretrain_eager_curve.py SHARDS --steps 800 --unigram   # replacements from the unigram distribution

Needs Debian's python3-torch (`apt-get install python3-torch`); `transformers` is not needed.
"""
import argparse
import json
import os
import random
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from pretrain_step_eager import Electra  # noqa: E402


def read_shards(folder):
    meta = json.load(open(os.path.join(folder, "shards.json")))
    examples = []
    for shard in meta["shards"]:
        data = open(os.path.join(folder, shard["file"]), "rb").read()
        offset = 16  # magic, version, max_seq_length
        while offset < len(data):
            n, first = struct.unpack("<HH", data[offset:offset + 4])
            offset += 4
            examples.append((list(struct.unpack("<%dI" % n, data[offset:offset + 4 * n])), first))
            offset += 4 * n
    return meta, examples


def pad_batch(examples):
    """(ids, attention mask, token types) of shard examples, padded to the longest: type 1 from each example's
    first-segment length on."""
    ids = torch.zeros(len(examples), max(len(tokens) for tokens, _ in examples), dtype=torch.long)
    mask, types = torch.zeros_like(ids), torch.zeros_like(ids)
    for row, (tokens, first) in enumerate(examples):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        mask[row, :len(tokens)] = 1
        types[row, first:len(tokens)] = 1
    return ids, mask, types


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shards")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--total", type=int, default=4000, help="steps of the linear schedule")
    ap.add_argument("--E", type=int, default=32)
    ap.add_argument("--H", type=int, default=64)
    ap.add_argument("--L", type=int, default=2)
    ap.add_argument("--A", type=int, default=4)
    ap.add_argument("--generator-size", type=float, default=0.25)
    ap.add_argument("--disc-weight", type=float, default=50.0)
    ap.add_argument("--special-ids", default="0,1,2,3,4", help="never masked ([PAD] [UNK] [CLS] [SEP] [MASK])")
    ap.add_argument("--mask-id", type=int, default=4)
    ap.add_argument("--unigram", action="store_true", help="replacements from the corpus' unigram distribution")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log", type=int, default=50)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    meta, examples = read_shards(a.shards)
    vocab = meta["vocab_size"]
    special = {int(t) for t in a.special_ids.split(",")}
    print(f"{len(examples)} examples, vocabulary {vocab}", flush=True)
    counts = torch.zeros(vocab)
    for ids, _ in examples:
        counts += torch.bincount(torch.tensor(ids), minlength=vocab).float()
    for t in special:
        counts[t] = 0
    unigram = counts / counts.sum()
    model = Electra(vocab, a.E, a.H, a.L, a.A, 2 * a.H, a.generator_size, P=meta["max_seq_length"])
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, eps=1e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / a.warmup if s < a.warmup else max(0.0, (a.total - s) / (a.total - a.warmup)))
    g = torch.Generator().manual_seed(a.seed)
    max_predictions = int((0.15 + 0.005) * meta["max_seq_length"])
    order, pos = list(range(len(examples))), len(examples)
    window = dict(mlm=0.0, rtd=0.0, steps=0, right=0, tokens=0, predicted=0, replaced=0, both=0, gen_right=0, masked=0)
    for step in range(1, a.steps + 1):
        batch = []
        for _ in range(a.batch):
            if pos == len(order):
                rng.shuffle(order)
                pos = 0
            batch.append(examples[order[pos]])
            pos += 1
        ids, mask, types = pad_batch(batch)
        chosen = torch.zeros_like(ids, dtype=torch.bool)
        for i, (e, _) in enumerate(batch):
            candidates = [j for j, t in enumerate(e) if t not in special]
            k = min(max_predictions, max(1, round(len(e) * 0.15)), len(candidates))
            for j in rng.sample(candidates, k):
                chosen[i, j] = True
        masked_ids = torch.where(chosen & (torch.rand(ids.shape, generator=g) < 0.85), torch.full_like(ids, a.mask_id),
                                 ids)
        loss, parts = model.objective(ids, types, mask, masked_ids, chosen, g, a.disc_weight,
                                      unigram if a.unigram else None)
        logits, targets, disc_logits, labels = (parts[k] for k in ("gen_logits", "targets", "disc_logits", "labels"))
        mlm, rtd, active = parts["mlm"], parts["rtd"], mask.bool()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            predicted, actual = (disc_logits > 0) & active, labels.bool() & active
            window["mlm"] += mlm.item()
            window["rtd"] += rtd.item()
            window["steps"] += 1
            window["right"] += ((predicted == actual) & active).sum().item()
            window["tokens"] += active.sum().item()
            window["predicted"] += predicted.sum().item()
            window["replaced"] += actual.sum().item()
            window["both"] += (predicted & actual).sum().item()
            window["gen_right"] += (logits.argmax(-1) == targets).sum().item()
            window["masked"] += targets.numel()
        if step % a.log == 0:
            w = window
            print(f"step {step}: mlm {w['mlm'] / w['steps']:.4f} rtd {w['rtd'] / w['steps']:.4f} "
                  f"gen acc {w['gen_right'] / w['masked']:.3f} disc acc {w['right'] / w['tokens']:.3f} "
                  f"P {w['both'] / max(1, w['predicted']):.3f} R {w['both'] / max(1, w['replaced']):.3f} "
                  f"replaced {w['replaced'] / w['tokens']:.3f} lr {sched.get_last_lr()[0]:.2e}", flush=True)
            window = {k: 0 for k in window}


if __name__ == "__main__":
    main()
