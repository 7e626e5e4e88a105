#!/usr/bin/env python3
"""A masked LM alone, in PyTorch eager, on `electra pretrain --prepare` shards (docs/pretraining.md, learning test).

ELECTRA's generator (bench/pretrain_step_eager.py's Encoder; tied word embeddings, own output bias) trained with
every chosen token [MASK] (15 % of the non-special tokens), so the loss printed is the masked positions' alone. Two
initialisations can be changed to test what keeps it on the unigram plateau:
  --positions sinusoidal   position embeddings sin/cos (Vaswani et al.) scaled to the word embeddings' row norm
                           instead of N(0, 0.02): an offset is then a linear map, so "attend to the token before" is
                           one pattern for every position;
  --bias unigram           the output bias set to the shards' log unigram distribution, so no step is spent on it.

  python3 tools/research/pretrain_mlm_eager.py SHARDS [--steps 1000] [--lr 2e-3] [--positions random|sinusoidal]
                                             [--bias zero|unigram] [--hidden 64] [--threads 2]
Needs PyTorch (Debian: python3-torch).
"""
import argparse
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from pretrain_eager_curve import pad_batch, read_shards  # noqa: E402
from pretrain_step_eager import Encoder  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shards")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--embedding", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--positions", choices=["random", "sinusoidal"], default="random")
    ap.add_argument("--bias", choices=["zero", "unigram"], default="zero")
    ap.add_argument("--mask-id", type=int, default=4, help="[MASK]; ids up to it are special and never chosen")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.shards, "shards.json")):
        sys.exit(f"{a.shards}: no shards.json (give a folder `electra pretrain --prepare` wrote)")
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    meta, examples = read_shards(a.shards)
    V, E, H, T = meta["vocab_size"], a.embedding, a.hidden, meta["max_seq_length"]

    word, position, token_type = nn.Embedding(V, E), nn.Embedding(T, E), nn.Embedding(2, E)
    embeddings_ln = nn.LayerNorm(E, eps=1e-12)
    encoder = Encoder(E, H, a.layers, max(1, H // 64), 4 * H, 1e-12)
    dense, head_ln = nn.Linear(H, E), nn.LayerNorm(E, eps=1e-12)
    bias = nn.Parameter(torch.zeros(V))
    for m in [word, position, token_type, dense] + [x for x in encoder.modules() if isinstance(x, nn.Linear)]:
        m.weight.data.normal_(0.0, 0.02)
        if isinstance(m, nn.Linear):
            m.bias.data.zero_()
    if a.positions == "sinusoidal":
        angle = torch.arange(T)[:, None].float() / (10000 ** (torch.arange(0, E, 2).float() / E))
        scale = word.weight.data.norm(dim=1).mean() / (E / 2) ** 0.5  # each row's norm = a word embedding's
        position.weight.data[:, 0::2] = scale * torch.sin(angle)
        position.weight.data[:, 1::2] = scale * torch.cos(angle)
    if a.bias == "unigram":
        counts = torch.ones(V)
        for ids, _ in examples:
            counts += torch.bincount(torch.tensor(ids), minlength=V).float()
        bias.data = (counts / counts.sum()).log()

    modules = [word, position, token_type, embeddings_ln, encoder, dense, head_ln]
    params = [p for m in modules for p in m.parameters()] + [bias]
    opt = torch.optim.AdamW(params, lr=a.lr, eps=1e-6, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / a.warmup))
    order = list(range(len(examples)))
    rng.shuffle(order)
    taken, total, count, right, predicted, start = 0, 0.0, 0, 0, 0, time.time()
    print(f"{len(examples)} examples, vocabulary {V}; E{E} H{H} L{a.layers}, positions {a.positions}, bias {a.bias}")
    for step in range(1, a.steps + 1):
        batch = [examples[order[(taken + i) % len(order)]] for i in range(a.batch)]
        taken += a.batch
        ids, mask, types = pad_batch(batch)
        length = ids.shape[1]
        chosen = (torch.rand(ids.shape) < 0.15) & (ids > a.mask_id)
        x = embeddings_ln(word(ids.masked_fill(chosen, a.mask_id)) + position(torch.arange(length))[None]
                          + token_type(types))
        logits = F.linear(head_ln(F.gelu(dense(encoder(x, mask)[chosen]))), word.weight, bias)
        loss = F.cross_entropy(logits, ids[chosen])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        total, count = total + loss.item(), count + 1
        right += (logits.argmax(-1) == ids[chosen]).sum().item()
        predicted += int(chosen.sum())
        if step % a.log == 0:
            print(f"step {step}: masked LM loss {total / count:.3f}, accuracy {right / predicted:.3f} "
                  f"({time.time() - start:.0f} s)", flush=True)
            total, count, right, predicted = 0.0, 0, 0, 0


if __name__ == "__main__":
    main()
