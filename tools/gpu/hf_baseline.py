#!/usr/bin/env python3
"""Hugging Face baseline for bench/train_step_bench, run in the same call on the same GPU.

Measures transformers' ElectraForSequenceClassification the way ../shared/tools/hf_reference.py and
hf_anchors.py did: batch 32 x 128 tokens, torch.optim.AdamW(fused=True), a full train step (forward, loss,
backward, optimizer step, zero_grad), median of N steps after W warm-up steps (CUDA events); inference at
batch 256 x 128. Prints one markdown row per mode and writes JSON.

usage: hf_baseline.py [--model small|base] [--modes fp32,tf32,bf16,bf16_compile] [--steps 40] [--json FILE]
"""
import argparse
import json
import time

import torch
import transformers
from transformers import ElectraConfig, ElectraForSequenceClassification

SHAPES = {
    "small": dict(embedding_size=128, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    "base": dict(embedding_size=768, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
}


def measure(model_name, mode, steps, warmup, batch, seq, infer_batch):
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = mode in ("tf32", "bf16_compile")
    config = ElectraConfig(vocab_size=32000, num_hidden_layers=12, max_position_embeddings=512, num_labels=2,
                           **SHAPES[model_name])
    model = ElectraForSequenceClassification(config).cuda().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
    compiled = "compile" in mode
    fwd = torch.compile(model, mode="reduce-overhead") if compiled else model
    bf16 = mode.startswith("bf16")
    ids = torch.randint(5, 32000, (batch, seq), device="cuda")
    mask = torch.ones(batch, seq, dtype=torch.long, device="cuda")
    labels = torch.randint(0, 2, (batch,), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = fwd(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t0 = time.time()
    for _ in range(warmup + (3 if compiled else 0)):
        step()
    torch.cuda.synchronize()
    warm = time.time() - t0
    times = []
    for _ in range(steps):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        step()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    med = times[len(times) // 2]
    row = {"mode": mode, "train_step_ms_median": med, "train_seq_per_s": batch / med * 1000,
           "min_ms": times[0], "max_ms": times[-1], "warmup_s": warm}
    if not compiled:
        model.eval()
        iids = torch.randint(5, 32000, (infer_batch, seq), device="cuda")
        imask = torch.ones(infer_batch, seq, dtype=torch.long, device="cuda")
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            for _ in range(3):
                model(input_ids=iids, attention_mask=imask).logits.float().cpu()
            itimes = []
            for _ in range(max(5, steps // 2)):
                t = time.time()
                model(input_ids=iids, attention_mask=imask).logits.float().cpu()
                itimes.append((time.time() - t) * 1000)
        itimes.sort()
        row["infer_seq_per_s"] = infer_batch / itimes[len(itimes) // 2] * 1000
    del model, opt, fwd
    torch.cuda.empty_cache()
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="small", choices=sorted(SHAPES))
    p.add_argument("--modes", default="fp32,tf32,bf16")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--json")
    a = p.parse_args()
    print(f"hf_baseline: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{torch.cuda.get_device_name(0)}, ELECTRA-{a.model}, batch {a.batch} x {a.seq}", flush=True)
    print("| mode | train step ms | train seq/s | infer seq/s | warm-up s |\n| --- | --- | --- | --- | --- |", flush=True)
    rows = []
    for mode in a.modes.split(","):
        try:
            r = measure(a.model, mode, a.steps, a.warmup, a.batch, a.seq, a.infer_batch)
            infer = f"{r['infer_seq_per_s']:.0f}" if "infer_seq_per_s" in r else ""
            print(f"| {mode} | {r['train_step_ms_median']:.2f} | {r['train_seq_per_s']:.0f} | {infer} | "
                  f"{r['warmup_s']:.1f} |", flush=True)
        except Exception as ex:  # one failing mode must not hide the others
            r = {"mode": mode, "error": repr(ex)[:400]}
            print(f"| {mode} | error: {r['error']} |", flush=True)
        rows.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
