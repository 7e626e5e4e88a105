#!/usr/bin/env python3
"""The Python peers of bench/peers/bench_peers.py, one measurement per process (so that each has its own peak RSS):

  peer.py gemm --threads N [--n 2048] [--reps 7]                   torch.mm fp32 peak of this process's BLAS
  peer.py train --model small|base --threads N [--compile] ...     transformers' ElectraForSequenceClassification step
  peer.py export --model DIR --out FILE.onnx                       transformers -> ONNX -> ORT transformer optimizer
  peer.py eval --engine hf|ort --model DIR [--onnx F] --tsv F ...  sorted-by-length batches, logits to .npy
  peer.py pretrain --size tiny|small --threads N ...               the pre-training step with transformers' classes
  peer.py tok --vocab F --tsv F --reps 5                           tokenizers' encode_batch (RAYON_NUM_THREADS)

Each prints one JSON object on its last line of stdout.
"""
import argparse
import json
import os
import sys
import time


def median(v):
    s = sorted(v)
    return s[len(s) // 2]


def stats(times):
    return {"median": median(times), "min": min(times), "max": max(times), "n": len(times), "all": times}


def set_threads(n):
    import torch
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)


def cmd_gemm(a):
    import torch
    set_threads(a.threads)
    torch.manual_seed(0)
    x, y = torch.randn(a.n, a.n), torch.randn(a.n, a.n)
    c = torch.mm(x, y)
    g = []
    for _ in range(a.reps):
        t = time.perf_counter()
        torch.mm(x, y, out=c)
        g.append(2.0 * a.n ** 3 / (time.perf_counter() - t) / 1e9)
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "n": a.n, "gflops_median": median(g),
            "gflops_min": min(g), "gflops_max": max(g)}


# Google's ELECTRA-small / -base shapes with a 32k vocabulary, as bench/train_step_bench.cpp builds them.
SHAPES = {
    "small": dict(embedding_size=128, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    "base": dict(embedding_size=768, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
}


def cmd_train(a):
    import torch
    import transformers
    from transformers import ElectraConfig, ElectraForSequenceClassification
    set_threads(a.threads)
    torch.manual_seed(0)
    config = ElectraConfig(vocab_size=32000, num_hidden_layers=12, max_position_embeddings=512, num_labels=2,
                           **SHAPES[a.model])
    if a.model_dir:  # the same weights as electra's (a folder in Hugging Face layout)
        model = ElectraForSequenceClassification.from_pretrained(a.model_dir).train()
    else:
        model = ElectraForSequenceClassification(config).train()
    # The same step as train_step_bench's: forward, loss, loss.item(), backward, global-norm clipping at 1.0,
    # AdamW (lr 1e-4, weight decay 0.01; PyTorch's default CPU implementation), zero_grad.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    fwd = torch.compile(model, dynamic=a.nsmc is not None or a.replay is not None) if a.compile else model
    batches = None
    if a.replay:  # the very batches an electra run trained on (train.dump_batches), step for step
        batches = replay_batches(a.replay)
    elif a.nsmc:  # NSMC's length mix: seeded random batches of training reviews, padded to the longest
        batches = nsmc_batches(a)
    else:
        ids = torch.randint(5, 32000, (a.batch, a.seq))
        fixed = (ids, torch.ones(a.batch, a.seq, dtype=torch.long), torch.zeros(a.batch, a.seq, dtype=torch.long),
                 torch.randint(0, 2, (a.batch,)))
    counter = [0]

    def step():
        if batches is None:
            ids, mask, types, labels = fixed
        else:
            ids, mask, types, labels = batches[counter[0] % len(batches)]
            counter[0] += 1
        loss = fwd(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss
        loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    t0 = time.perf_counter()
    for _ in range(a.warmup):
        step()
    warm = time.perf_counter() - t0
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
    shapes = [tuple(b[0].shape) for b in batches[:a.warmup + a.steps]] if batches else [(a.batch, a.seq)]
    return {"system": "transformers " + ("torch.compile" if a.compile else "eager"), "torch": torch.__version__,
            "shapes": shapes,
            "transformers": transformers.__version__, "threads": torch.get_num_threads(), "model": a.model,
            "batch": a.batch, "seq": a.seq, "warmup_s": warm, "step_ms": stats(times)}


# configs/pretrain/{tiny,small}.yaml: discriminator E, H, L, A, I; the generator has H_g = H / 4, A_g = max(1, H_g / 64),
# I_g = 4 H_g (google-research/electra's get_generator_config, as electra builds it).
PRETRAIN = {"tiny": dict(E=64, H=128, L=2, A=2, I=256), "small": dict(E=128, H=256, L=12, A=4, I=1024)}


def cmd_pretrain(a):
    """electra's pre-training step written with transformers' classes: an ElectraForMaskedLM generator and an
    ElectraForPreTraining discriminator sharing one ElectraEmbeddings (the generator's lm head tied to its word
    embeddings), dynamic masking of 15 % of the tokens (85 % [MASK]), the lm head applied at the masked positions
    only (as electra and google-research/electra do), replacements sampled from the generator's softmax,
    loss = MLM + 50 RTD, loss.item(), backward, clip-norm 1.0, AdamW (lr 5e-4, eps 1e-6, weight decay 0.01)."""
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining
    set_threads(a.threads)
    torch.manual_seed(0)
    s = PRETRAIN[a.size]
    hg = s["H"] // 4
    common = dict(vocab_size=a.vocab, embedding_size=s["E"], num_hidden_layers=s["L"], max_position_embeddings=512)
    disc = ElectraForPreTraining(ElectraConfig(hidden_size=s["H"], num_attention_heads=s["A"],
                                               intermediate_size=s["I"], **common)).train()
    gen = ElectraForMaskedLM(ElectraConfig(hidden_size=hg, num_attention_heads=max(1, hg // 64),
                                           intermediate_size=4 * hg, **common)).train()
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    params = list({id(p): p for p in list(disc.parameters()) + list(gen.parameters())}.values())
    opt = torch.optim.AdamW(params, lr=5e-4, eps=1e-6, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, a.vocab, (a.batch, a.seq), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    types, attn = torch.zeros_like(ids), torch.ones_like(ids)

    def step():
        cand = torch.rand(ids.shape, generator=g)
        cand[:, 0] = cand[:, -1] = 2.0
        chosen = cand < 0.15
        masked = torch.where(chosen & (torch.rand(ids.shape, generator=g) < 0.85), torch.full_like(ids, 4), ids)
        h = gen.electra(input_ids=masked, attention_mask=attn, token_type_ids=types).last_hidden_state
        logits = gen.generator_lm_head(gen.generator_predictions(h[chosen]))
        mlm = F.cross_entropy(logits, ids[chosen])
        with torch.no_grad():
            fake = masked.clone()
            fake[chosen] = torch.multinomial(logits.softmax(-1), 1, generator=g).squeeze(-1)
            labels = (fake != ids).float()
        d = disc(input_ids=fake, attention_mask=attn, token_type_ids=types).logits
        loss = mlm + 50.0 * F.binary_cross_entropy_with_logits(d, labels)
        loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
    return {"system": "transformers (ElectraForMaskedLM + ElectraForPreTraining)", "torch": torch.__version__,
            "transformers": transformers.__version__, "size": a.size, "batch": a.batch, "seq": a.seq,
            "vocab": a.vocab, "step_ms": stats(times)}


def nsmc_batches(a):
    """Batches of a.batch reviews drawn at random (seed 0) from NSMC's training file, tokenized by the model folder's
    tokenizer (max length a.seq) and padded to the longest review of the batch: what transformers' Trainer does by
    default (DataCollatorWithPadding, pad_to_multiple_of None)."""
    import random
    import torch
    from transformers import AutoTokenizer
    rows = read_tsv(a.nsmc)
    tok = AutoTokenizer.from_pretrained(a.model_dir)
    rng = random.Random(0)
    out = []
    for _ in range(a.warmup + a.steps):
        pick = rng.sample(rows, a.batch)
        enc = tok([r[0] for r in pick], truncation=True, max_length=a.seq)["input_ids"]
        width = max(len(e) for e in enc)
        ids = torch.zeros(a.batch, width, dtype=torch.long)
        mask = torch.zeros(a.batch, width, dtype=torch.long)
        for j, e in enumerate(enc):
            ids[j, :len(e)] = torch.tensor(e)
            mask[j, :len(e)] = 1
        out.append((ids, mask, torch.zeros_like(ids), torch.tensor([r[1] for r in pick])))
    return out


def replay_batches(run_dir):
    """The batches of an electra fine-tuning run that wrote train.dump_batches' files: for each optimizer step of
    batches.jsonl, its one micro-batch's features (features_train.jsonl) padded to the length electra padded to."""
    import torch
    features = [json.loads(line) for line in open(os.path.join(run_dir, "features_train.jsonl"))]
    out = []
    for line in open(os.path.join(run_dir, "batches.jsonl")):
        step = json.loads(line)
        if len(step["micro_batches"]) != 1:
            raise SystemExit(f"{run_dir}/batches.jsonl: step {step['step']} has several micro-batches; replay takes one")
        mb = step["micro_batches"][0]
        indices, width = mb["feature_indices"], mb["length"]
        ids = torch.zeros(len(indices), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        types = torch.zeros_like(ids)
        for r, i in enumerate(indices):
            f = features[i]
            n = len(f["input_ids"])
            ids[r, :n] = torch.tensor(f["input_ids"])
            mask[r, :n] = 1
            types[r, :n] = torch.tensor(f["token_type_ids"])
        out.append((ids, mask, types, torch.tensor([features[i]["label"] for i in indices])))
    return out


def read_tsv(path):
    """NSMC's id<TAB>document<TAB>label rows after the header; an empty document stays (as electra reads it)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            rows.append((parts[1] if len(parts) > 1 else "", int(parts[2]) if len(parts) > 2 else 0))
    return rows


def cmd_export(a):
    import torch
    from transformers import ElectraForSequenceClassification
    from onnxruntime.transformers.optimizer import optimize_model
    # eager attention: the pattern ORT's attention fusion recognises (the sdpa graph is left unfused).
    model = ElectraForSequenceClassification.from_pretrained(a.model, attn_implementation="eager").eval()
    ids = torch.randint(5, 1000, (2, 16))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    raw = a.out + ".raw.onnx"
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), raw, input_names=names,
                      output_names=["logits"], opset_version=17, dynamo=False,
                      dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names}, "logits": {0: "batch"}})
    c = model.config
    opt = optimize_model(raw, model_type="bert", num_heads=c.num_attention_heads, hidden_size=c.hidden_size)
    opt.save_model_to_file(a.out)
    os.remove(raw)
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    return {"onnx": a.out, "fused_operators": fused}


def cmd_eval(a):
    import numpy as np
    t_start = time.perf_counter()
    from transformers import AutoTokenizer
    rows = read_tsv(a.tsv)
    tok = AutoTokenizer.from_pretrained(a.model)
    if a.engine == "hf":
        import torch
        from transformers import ElectraForSequenceClassification
        set_threads(a.threads)
        model = ElectraForSequenceClassification.from_pretrained(a.model).eval()
    else:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
    t_loaded = time.perf_counter()
    enc = tok([r[0] for r in rows], truncation=True, max_length=a.max_length)["input_ids"]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    logits = np.zeros((len(enc), 2), dtype=np.float32)
    for s in range(0, len(order), a.batch_size):
        idx = order[s:s + a.batch_size]
        width = max(len(enc[i]) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for j, i in enumerate(idx):
            ids[j, :len(enc[i])] = enc[i]
            mask[j, :len(enc[i])] = 1
        types = np.zeros_like(ids)
        if a.engine == "hf":
            with torch.inference_mode():
                out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                            token_type_ids=torch.from_numpy(types)).logits.numpy()
        else:
            out = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        logits[idx] = out
    t_end = time.perf_counter()
    if a.logits:
        np.save(a.logits, logits)
    return {"engine": a.engine, "examples": len(rows), "load_s": t_loaded - t_start,
            "tokens": sum(len(e) for e in enc), "tokens_squared": sum(len(e) ** 2 for e in enc),
            "tokenize_and_infer_s": t_end - t_loaded}


def cmd_tok(a):
    import tokenizers
    from tokenizers import BertWordPieceTokenizer
    texts = [r[0] for r in read_tsv(a.tsv)]
    texts = texts * max(1, a.repeat_corpus)
    tok = BertWordPieceTokenizer(a.vocab, clean_text=True, handle_chinese_chars=True, lowercase=False,
                                 strip_accents=False)
    times, ntok = [], 0
    for _ in range(a.reps):
        t = time.perf_counter()
        enc = tok.encode_batch(texts)
        times.append(time.perf_counter() - t)
        ntok = sum(len(e.ids) for e in enc)
    return {"tokenizers": tokenizers.__version__, "rayon_threads": os.environ.get("RAYON_NUM_THREADS", "all"),
            "lines": len(texts), "tokens": ntok, "seconds": stats(times)}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gemm")
    g.add_argument("--threads", type=int, required=True)
    g.add_argument("--n", type=int, default=2048)
    g.add_argument("--reps", type=int, default=7)
    t = sub.add_parser("train")
    t.add_argument("--model", choices=sorted(SHAPES), default="small")
    t.add_argument("--threads", type=int, required=True)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--seq", type=int, default=128)
    t.add_argument("--steps", type=int, default=5)
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--compile", action="store_true")
    t.add_argument("--model-dir", help="load this model (Hugging Face layout) instead of a random init")
    t.add_argument("--nsmc", help="NSMC training TSV: random review batches padded to their longest")
    t.add_argument("--replay", help="an electra run folder with train.dump_batches' files: train on its batches")
    x = sub.add_parser("export")
    x.add_argument("--model", required=True)
    x.add_argument("--out", required=True)
    e = sub.add_parser("eval")
    e.add_argument("--engine", choices=["hf", "ort"], required=True)
    e.add_argument("--model", required=True)
    e.add_argument("--onnx")
    e.add_argument("--tsv", required=True)
    e.add_argument("--threads", type=int, required=True)
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--max-length", type=int, default=128)
    e.add_argument("--logits")
    r = sub.add_parser("pretrain")
    r.add_argument("--size", choices=sorted(PRETRAIN), default="tiny")
    r.add_argument("--threads", type=int, required=True)
    r.add_argument("--vocab", type=int, default=32200)
    r.add_argument("--batch", type=int, default=32)
    r.add_argument("--seq", type=int, default=128)
    r.add_argument("--steps", type=int, default=5)
    r.add_argument("--warmup", type=int, default=2)
    k = sub.add_parser("tok")
    k.add_argument("--vocab", required=True)
    k.add_argument("--tsv", required=True)
    k.add_argument("--reps", type=int, default=5)
    k.add_argument("--repeat-corpus", type=int, default=1)
    a = p.parse_args()
    result = {"gemm": cmd_gemm, "train": cmd_train, "export": cmd_export, "eval": cmd_eval, "tok": cmd_tok,
              "pretrain": cmd_pretrain}[a.cmd](a)
    sys.stdout.flush()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
