#!/usr/bin/env python3
"""electra against its real peers on this machine's CPU, one command, one table (issue 31): `transformers` (eager and
torch.compile) and ONNX Runtime, same thread count, same shapes, same weights (evaluation), same inputs.

  bench/peers/bench_peers.py [--quick] [--threads N] [--json FILE] [--data DIR] [--vocab DIR] [--work DIR]

Sections: 0. fp32 GEMM peak of each BLAS (electra's LibTorch 1.13 and 2.x, PyTorch in Python). 1. Fine-tuning step
(ELECTRA-small and -base shapes, batch x seq, random tokens). 2. Evaluation / prediction of NSMC's test file with an
ELECTRA-small from `electra init` (+ a seeded 2-label head): the whole file once per system (wall time, peak RSS, the
outputs compared) and a median over repetitions on a fixed subset. 4. Tokenizer. The markdown table goes to stdout,
everything measured (every repetition) to --json. Each measurement runs in its own process, one after another.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER = os.path.join(ROOT, "bench", "peers", "peer.py")


def median(v):
    s = sorted(v)
    return s[len(s) // 2]


def stats(v):
    return {"median": median(v), "min": min(v), "max": max(v), "n": len(v), "all": v}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, env=None, cwd=None):
    """Runs cmd to the end; returns (stdout, wall seconds)."""
    log("$ " + " ".join(cmd))
    full_env = dict(os.environ, **(env or {}))
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, cwd=cwd, text=True)
    out, err = p.communicate()
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{err[-3000:]}\n{out[-2000:]}")
    return out, wall


def run_rss(cmd, env=None, stdout_path=None):
    """Runs cmd with os.wait4, so that the peak RSS is this child's own; returns (stdout, wall s, peak RSS MB)."""
    log("$ " + " ".join(cmd))
    full_env = dict(os.environ, **(env or {}))
    out_f = open(stdout_path, "w") if stdout_path else subprocess.PIPE
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=out_f, stderr=subprocess.PIPE, env=full_env, text=True)
    err = p.stderr.read()
    out = "" if stdout_path else p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if stdout_path:
        out_f.close()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{err[-3000:]}\n{out[-2000:]}")
    return out, wall, usage.ru_maxrss / 1024.0


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


class Bench:
    def __init__(self, a):
        self.a = a
        self.py = a.python
        self.threads = a.threads
        self.env = {"OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads), "HF_HUB_OFFLINE": "1",
                    "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
        self.worlds = {"electra (LibTorch 1.13, Debian)": os.path.join(ROOT, a.build),
                       "electra (LibTorch 2.x)": os.path.join(ROOT, a.build_torch2)}
        self.result = {"sections": {}}

    def peer(self, *args, env=None):
        out, wall = run([self.py, PEER, *args], env=dict(self.env, **(env or {})))
        return last_json(out)

    # 0. GEMM peak
    def gemm(self):
        r = {}
        for name, d in self.worlds.items():
            path = os.path.join(self.a.work, "gemm.json")
            run([os.path.join(d, "gemm_peak"), "--threads", str(self.threads), "--n", str(self.a.gemm_n),
                 "--json", path], env=self.env)
            r[name] = json.load(open(path))
        r["transformers (PyTorch)"] = self.peer("gemm", "--threads", str(self.threads), "--n", str(self.a.gemm_n))
        self.result["sections"]["gemm_peak"] = r
        return r

    # 1. Fine-tuning step
    def train(self, peak):
        rows = []
        for model, steps in (("small", self.a.train_steps), ("base", self.a.base_steps)):
            flops = step_flops(model, self.a.batch, self.a.seq)
            for name, d in self.worlds.items():
                path = os.path.join(self.a.work, "train.json")
                run([os.path.join(d, "train_step_bench"), "--device", "cpu", "--model", model, "--batch",
                     str(self.a.batch), "--seq", str(self.a.seq), "--steps", str(steps), "--warmup",
                     str(self.a.warmup), "--modes", "fp32", "--optimizers", "fused", "--infer-batch", "1",
                     "--json", path], env=self.env)
                j = json.load(open(path))[0]
                if "error" in j:
                    raise RuntimeError(f"train_step_bench: {j['error']}")
                # train_step_bench keeps medians, min and max; not every step
                rows.append(dict(system=f"{name} train_step_bench, AdamW {j['optimizer']}", model=model,
                                 step_ms={"median": j["train_step_ms_median"],
                                 "min": j["train_step_ms_min"], "max": j["train_step_ms_max"], "n": steps},
                                 warmup_s=j["warmup_s"], peak=peak[name]))
            modes = [False] + ([True] if (model == "small" or self.a.compile_base) and not self.a.no_compile else [])
            for compiled in modes:
                args = ["train", "--model", model, "--threads", str(self.threads), "--batch", str(self.a.batch),
                        "--seq", str(self.a.seq), "--steps", str(steps), "--warmup",
                        str(self.a.warmup + (1 if compiled else 0))]
                j = self.peer(*args, *(["--compile"] if compiled else []))
                rows.append(dict(system=j["system"], model=model, step_ms=j["step_ms"], warmup_s=j["warmup_s"],
                                 peak=peak["transformers (PyTorch)"]))
            for r in rows:
                if r["model"] == model:
                    r["flops_per_step"] = flops
                    ms = r["step_ms"]["median"]
                    r["examples_per_s"] = self.a.batch / ms * 1000
                    r["achieved_gflops"] = flops / (ms / 1000) / 1e9
                    r["share_of_peak"] = r["achieved_gflops"] / r["peak"]["gflops_median"]
        if not self.a.no_mix:
            rows += self.train_mix()
        self.result["sections"]["train_step"] = rows
        return rows

    def train_mix(self):
        """The real NSMC length mix: electra's own trainer (`electra finetune --stop-after`, its per-step time from
        metrics.jsonl, logging every step) against transformers eager on the very batches electra trained on, step
        for step (train.dump_batches: the same reviews, padded to the same length), both from the same `electra
        init` weights."""
        rows = []
        sizes = (("small", self.a.train_steps),) + ((("base", self.a.base_steps),) if self.a.mix_base else ())
        for size, steps in sizes:
            model = self.make_model(size, export_onnx=False)
            replay = os.path.join(self.a.work, f"ft-{size}-batches")
            shutil.rmtree(replay, ignore_errors=True)
            for name, d in self.worlds.items():
                out_dir = os.path.join(self.a.work, f"ft-{size}")
                shutil.rmtree(out_dir, ignore_errors=True)
                run([os.path.join(d, "electra"), "--threads", str(self.threads), "finetune", "--config",
                     os.path.join(ROOT, "configs", "korean", "nsmc.yaml"), "--model", model, "--data-dir",
                     self.a.data, "--output-dir", out_dir, "--stop-after", str(self.a.warmup + steps), "--set",
                     "train.logging_every=1", "--set", f"train.batch_size={self.a.batch}", "--set",
                     f"data.max_seq_length={self.a.seq}", "--set", "device=cpu", "--set",
                     "train.dump_batches=true"], env=self.env)
                m = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl"))]
                ms = [self.a.batch / x["examples_per_s"] * 1000 for x in m
                      if x.get("type") == "train" and x["step"] > self.a.warmup]
                rows.append(dict(system=name + " finetune", model=size + " NSMC mix", step_ms=stats(ms), warmup_s=None))
                if not os.path.exists(replay):  # every world trains on the same batches (same seed, same data)
                    os.makedirs(replay)
                    for f in ("features_train.jsonl", "batches.jsonl"):
                        shutil.copy(os.path.join(out_dir, f), replay)
                shutil.rmtree(out_dir, ignore_errors=True)
            j = self.peer("train", "--model", size, "--model-dir", model, "--replay", replay, "--threads",
                          str(self.threads), "--batch", str(self.a.batch), "--seq", str(self.a.seq), "--steps",
                          str(steps), "--warmup", str(self.a.warmup))
            shutil.rmtree(replay, ignore_errors=True)
            rows.append(dict(system=j["system"], model=size + " NSMC mix", step_ms=j["step_ms"], shapes=j["shapes"],
                             warmup_s=j["warmup_s"]))
            shutil.rmtree(model)
        for r in rows:
            r["examples_per_s"] = self.a.batch / r["step_ms"]["median"] * 1000
        return rows

    # 2. Evaluation / prediction
    def make_model(self, size="small", export_onnx=True):
        model = os.path.join(self.a.work, f"{size}-cls")
        if os.path.exists(model):
            shutil.rmtree(model)
        init = os.path.join(self.a.work, f"{size}-init")
        if os.path.exists(init):
            shutil.rmtree(init)
        run([os.path.join(self.worlds["electra (LibTorch 1.13, Debian)"], "electra"), "init", "--config", size,
             "--vocab", self.a.vocab, "--cased", "--output", init])
        # electra init writes an encoder (ElectraModel); NSMC needs a 2-label head: transformers adds one with a
        # fixed seed and writes the whole model in the same Hugging Face layout, which both sides then read.
        code = ("import sys, shutil, torch\n"
                "from transformers import ElectraForSequenceClassification as M\n"
                "torch.manual_seed(0)\n"
                "m = M.from_pretrained(sys.argv[1], num_labels=2, id2label={0: '0', 1: '1'}, "
                "label2id={'0': 0, '1': 1})\n"
                "m.save_pretrained(sys.argv[2])\n"
                "[shutil.copy(sys.argv[1] + '/' + f, sys.argv[2]) for f in ('vocab.txt', 'tokenizer_config.json')]\n")
        run([self.py, "-c", code, init, model], env=self.env)
        shutil.rmtree(init)
        if not export_onnx:
            return model
        onnx = os.path.join(self.a.work, "small-cls.onnx")
        export = self.peer("export", "--model", model, "--out", onnx)
        return model, onnx, export

    def subset(self, n, name):
        d = os.path.join(self.a.work, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.a.data, "ratings_test.txt"), encoding="utf-8") as f:
            lines = f.readlines()
        with open(os.path.join(d, "ratings_test.txt"), "w", encoding="utf-8") as f:
            f.writelines(lines[:n + 1] if n else lines)
        with open(os.path.join(self.a.data, "ratings_train.txt"), encoding="utf-8") as f:
            head = [next(f), next(f)]
        with open(os.path.join(d, "ratings_train.txt"), "w", encoding="utf-8") as f:
            f.writelines(head)  # read by the task adapter, not used by the test split
        rows = [l.rstrip("\n").split("\t") for l in (lines[1:n + 1] if n else lines[1:])]
        with open(os.path.join(d, "texts.jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"text": r[1] if len(r) > 1 else ""}, ensure_ascii=False) + "\n")
        return d, len(rows)

    def eval_once(self, system, model, onnx, d, tag):
        import numpy as np
        bs, t = str(self.a.eval_batch), str(self.threads)
        if system.startswith("electra eval"):
            exe = os.path.join(self.worlds[self.electra_world(system)], "electra")
            out_dir = os.path.join(self.a.work, f"ev-{tag}")
            shutil.rmtree(out_dir, ignore_errors=True)
            _, wall, rss = run_rss([exe, "--threads", t, "eval", "--model", model, "--task", "nsmc", "--split",
                                    "test", "--data-dir", d, "--output-dir", out_dir, "--batch-size", bs,
                                    "--max-seq-length", "128", "--offline"], env=self.env)
            labels = np.array([int(l) for l in open(os.path.join(out_dir, "predictions_test.txt"))])
            return wall, rss, labels, None
        if system.startswith("electra predict"):
            exe = os.path.join(self.worlds[self.electra_world(system)], "electra")
            out = os.path.join(self.a.work, f"pred-{tag}.jsonl")
            _, wall, rss = run_rss([exe, "--threads", t, "predict", "--model", model, "--input",
                                    os.path.join(d, "texts.jsonl"), "--output", out, "--batch-size", bs,
                                    "--max-length", "128"], env=self.env)
            logits = np.array([json.loads(l)["logits"] for l in open(out)], dtype=np.float32)
            return wall, rss, logits.argmax(1), logits
        engine = "hf" if system.startswith("transformers") else "ort"
        npy = os.path.join(self.a.work, f"{engine}-{tag}.npy")
        out, wall, rss = run_rss([self.py, PEER, "eval", "--engine", engine, "--model", model, "--onnx", onnx,
                                  "--tsv", os.path.join(d, "ratings_test.txt"), "--threads", t, "--batch-size", bs,
                                  "--logits", npy], env=self.env)
        self.last_peer_eval = last_json(out)
        logits = np.load(npy)
        return wall, rss, logits.argmax(1), logits

    @staticmethod
    def electra_world(system):
        return "electra (LibTorch 2.x)" if "2.x" in system else "electra (LibTorch 1.13, Debian)"

    def evaluate(self):
        import numpy as np
        model, onnx, export = self.make_model()
        systems = ["electra eval (LibTorch 1.13)", "electra eval (LibTorch 2.x)", "electra predict (LibTorch 1.13)",
                   "electra predict (LibTorch 2.x)", "transformers eager", "ONNX Runtime"]
        full_dir, n_full = self.subset(self.a.eval_full, "eval-full")
        sub_dir, n_sub = self.subset(self.a.eval_subset, "eval-subset")
        rows = {s: {"system": s} for s in systems}
        outputs = {}
        for s in systems:  # the whole file once: wall time, peak RSS, outputs
            wall, rss, labels, logits = self.eval_once(s, model, onnx, full_dir, "full")
            rows[s].update(full_wall_s=wall, full_peak_rss_mb=rss, full_seq_per_s=n_full / wall)
            if s == "transformers eager":
                self.last_eval_tokens = self.last_peer_eval
            outputs[s] = (labels, logits)
        for s in systems:  # repetitions on the subset
            walls = [self.eval_once(s, model, onnx, sub_dir, "sub")[0] for _ in range(self.a.eval_reps)]
            rows[s].update(subset_wall_s=stats(walls), subset_seq_per_s=n_sub / median(walls))
        # The GEMM-bound time of the pass: forward FLOPs of the real (unpadded) token counts over the GEMM peak
        tok = self.last_eval_tokens
        e, h, i, layers = 128, 256, 1024, 12
        flops = 2 * (e * h + layers * (4 * h * h + 2 * h * i)) * tok["tokens"] + 4 * layers * h * tok["tokens_squared"]
        ref_labels, ref_logits = outputs["transformers eager"]
        for s in systems:
            labels, logits = outputs[s]
            rows[s]["argmax_mismatches_vs_transformers"] = int((labels != ref_labels).sum())
            rows[s]["max_abs_logit_diff_vs_transformers"] = (
                None if logits is None else float(np.abs(logits - ref_logits).max()))
        r = {"examples_full": n_full, "examples_subset": n_sub, "reps": self.a.eval_reps, "onnx_export": export,
             "rows": [rows[s] for s in systems], "tokens_full": tok["tokens"], "forward_flops_full": flops}
        r["agree"] = all(x["argmax_mismatches_vs_transformers"] == 0 and
                         (x["max_abs_logit_diff_vs_transformers"] is None or
                          x["max_abs_logit_diff_vs_transformers"] <= 1e-4) for x in r["rows"])
        self.result["sections"]["eval"] = r
        return r

    # 3. Pre-training step
    def pretrain(self):
        corpus = self.documents()
        rows = []
        for size in ("tiny", "small"):
            steps = self.a.pretrain_steps
            for name, d in self.worlds.items():
                out_dir = os.path.join(self.a.work, f"pretrain-{size}")
                shutil.rmtree(out_dir, ignore_errors=True)
                run([os.path.join(d, "electra"), "--threads", str(self.threads), "pretrain", "--config",
                     os.path.join(ROOT, "configs", "pretrain", f"{size}.yaml"), "--corpus", corpus, "--vocab",
                     self.a.vocab, "--output-dir", out_dir, "--set", f"train.max_steps={self.a.warmup + steps}",
                     "--set", f"train.batch_size={self.a.pretrain_batch}", "--set", "train.logging_every=1",
                     "--set", "train.save_every=1000000", "--set", "data.max_seq_length=128", "--set",
                     "data.short_seq_prob=0", "--set", "data.single_segment_prob=0", "--set", "device=cpu"],
                    env=self.env)
                m = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl"))]
                ms = [1000 * x["seconds"] for x in m if x["step"] > self.a.warmup]
                rows.append(dict(system=name, size=size, step_ms=stats(ms)))
            j = self.peer("pretrain", "--size", size, "--threads", str(self.threads), "--batch",
                          str(self.a.pretrain_batch), "--steps", str(steps), "--warmup", str(self.a.warmup),
                          "--vocab", str(sum(1 for _ in open(os.path.join(self.a.vocab, "vocab.txt"),
                                                               encoding="utf-8"))))
            rows.append(dict(system=j["system"], size=size, step_ms=j["step_ms"]))
        for r in rows:
            r["tokens_per_s"] = self.a.pretrain_batch * 128 / r["step_ms"]["median"] * 1000
        self.result["sections"]["pretrain"] = {"batch": self.a.pretrain_batch, "seq": 128, "rows": rows}

    def documents(self):
        corpus = os.path.join(self.a.work, "nsmc-test-documents.txt")
        with open(os.path.join(self.a.data, "ratings_test.txt"), encoding="utf-8") as f, \
                open(corpus, "w", encoding="utf-8") as out:
            next(f)
            for line in f:
                parts = line.rstrip("\n").split("\t")
                out.write((parts[1] if len(parts) > 1 else "") + "\n")
        return corpus

    # 4. Tokenizer
    def tokenizer(self):
        corpus = self.documents()
        rows = []
        size_mb = os.path.getsize(corpus) / 1e6
        vocab = os.path.join(self.a.vocab, "vocab.txt")
        for name, d in self.worlds.items():
            out, _ = run([os.path.join(d, "tokenizer_bench"), "--vocab", vocab, "--corpus", corpus, "--mb", "1e-9",
                          "--repeat", str(self.a.tok_reps)], env=self.env)
            secs, tokens = [], None
            for line in out.splitlines():
                if line.startswith("run "):
                    w = line.split()
                    tokens = int(w[2])
                    secs.append(float(w[5]))
            rows.append(dict(system=name.replace("electra", "electra tokenizer_bench"), threads=1, tokens=tokens,
                             seconds=stats(secs)))
        for threads in ("1", str(self.threads)):
            j = self.peer("tok", "--vocab", vocab, "--tsv", os.path.join(self.a.data, "ratings_test.txt"), "--reps",
                          str(self.a.tok_reps), env={"RAYON_NUM_THREADS": threads, "TOKENIZERS_PARALLELISM": "true"})
            rows.append(dict(system=f"tokenizers {j['tokenizers']} encode_batch", threads=int(threads),
                             tokens=j["tokens"], seconds=j["seconds"]))
        for r in rows:
            r["mtokens_per_s"] = r["tokens"] / r["seconds"]["median"] / 1e6
            r["mb_per_s"] = size_mb / r["seconds"]["median"]
        r = {"corpus": "NSMC ratings_test.txt documents (50,000 lines)", "mb": size_mb, "rows": rows,
             "same_token_count": len({x["tokens"] for x in rows}) == 1}
        self.result["sections"]["tokenizer"] = r
        return r


def step_flops(model, batch, seq):
    """FLOPs of one fine-tuning step of ElectraForSequenceClassification (fp32 multiply-adds counted as 2), the
    formula the table states: forward = 2 * P_mm * T + 4 * L * S * H * T, step = 3 x forward (backward = 2 x forward).
    P_mm: weights used in matrix products per token (the embedding projection E*H, per layer 4*H^2 + 2*H*I);
    the attention term is QK^T and (softmax)V; the classifier (H*H + 2*H, once per sequence) is added per
    sequence. Embedding lookups, layer norms, softmax, GELU, AdamW: not counted."""
    e, h, i = (128, 256, 1024) if model == "small" else (768, 768, 3072)
    layers = 12
    tokens = batch * seq
    p_mm = e * h + layers * (4 * h * h + 2 * h * i)
    fwd = 2 * p_mm * tokens + 4 * layers * seq * h * tokens + 2 * (h * h + 2 * h) * batch
    return 3 * fwd


def goals(res):
    """Issue 31's goals, each as measured by this run: a line per goal with the ratio and met / not met."""
    sec = res["sections"]
    out = ["**Goals** (issue 31), from the rows above:", ""]

    def verdict(ok):
        return "met" if ok else "NOT met"

    def row(rows, pred):
        found = [r for r in rows if pred(r)]
        return found[0] if found else None

    if "train_step" in sec:
        rows = sec["train_step"]
        for model in ("small", "base"):
            eager = row(rows, lambda r: r["model"] == model and r["system"] == "transformers eager")
            comp = row(rows, lambda r: r["model"] == model and r["system"] == "transformers torch.compile")
            for world in ("LibTorch 2.x", "LibTorch 1.13"):
                e = row(rows, lambda r: r["model"] == model and world in r["system"] and "train_step_bench" in r["system"])
                if not (e and eager):
                    continue
                ms = e["step_ms"]["median"]
                x = eager["step_ms"]["median"] / ms
                line = f"- Fine-tuning step, {model} 32×128, electra ({world}): {x:.2f}× transformers eager (goal ≥ 2: {verdict(x >= 2)})"
                if comp:
                    xc = comp["step_ms"]["median"] / ms
                    line += f", {xc:.2f}× torch.compile (goal > 1: {verdict(xc > 1)})"
                share = e.get("share_of_peak")
                if share is not None:
                    line += f", {100 * share:.0f}% of its GEMM peak (goal ≥ 50%: {verdict(share >= 0.5)})"
                out.append(line + ".")
        eager = row(rows, lambda r: "NSMC mix" in r["model"] and r["system"] == "transformers eager")
        for r in rows:
            if "NSMC mix" in r["model"] and r["system"].startswith("electra") and eager:
                x = eager["step_ms"]["median"] / r["step_ms"]["median"]
                out.append(f"- Fine-tuning on NSMC's length mix, {r['system']}: {x:.2f}× transformers eager "
                           f"(goal ≥ 2: {verdict(x >= 2)}).")
    if "eval" in sec:
        e = sec["eval"]
        rows = e["rows"]
        ort = row(rows, lambda r: r["system"] == "ONNX Runtime")
        peaks = sec.get("gemm_peak", {})
        for r in rows:
            if not r["system"].startswith("electra") or not ort:
                continue
            x = r["subset_seq_per_s"] / ort["subset_seq_per_s"]
            line = f"- Evaluation, {r['system']}: {x:.2f}× ONNX Runtime's sequences/s (goal ≥ 1: {verdict(x >= 1)})"
            world = "electra (LibTorch 2.x)" if "2.x" in r["system"] else "electra (LibTorch 1.13, Debian)"
            if world in peaks and e.get("forward_flops_full"):
                bound = e["forward_flops_full"] / (peaks[world]["gflops_median"] * 1e9)
                y = r["full_wall_s"] / bound
                line += (f"; the {e['examples_full']:,}-review pass took {y:.2f}× its GEMM-bound time of {bound:.1f} s "
                         f"({e['tokens_full']:,} tokens; wall time, start-up included; goal ≤ 1.3: {verdict(y <= 1.3)})")
            out.append(line + ".")
    if "pretrain" in sec:
        rows = sec["pretrain"]["rows"]
        for size in ("tiny", "small"):
            eager = row(rows, lambda r: r["size"] == size and r["system"].startswith("transformers"))
            for r in rows:
                if r["size"] == size and r["system"].startswith("electra") and eager:
                    x = eager["step_ms"]["median"] / r["step_ms"]["median"]
                    out.append(f"- Pre-training step, {size}, {r['system']}: {x:.2f}× eager (goal ≥ 1.5: {verdict(x >= 1.5)}).")
    out.append("")
    return "\n".join(out)


def fmt_ms(s):
    return f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"


def render(b, a, started, elapsed):
    res = b.result
    lines = []
    p = lines.append
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    p(f"## electra vs transformers / ONNX Runtime on the CPU ({'QUICK SMOKE RUN, not a measurement' if a.quick else 'full run'})")
    p("")
    p(f"Date {started} UTC; machine: {cpu}, {os.cpu_count()} logical CPUs; {a.threads} threads everywhere "
      f"(OMP_NUM_THREADS, electra --threads, torch.set_num_threads, ORT intra-op, RAYON_NUM_THREADS where stated); "
      f"command: `{' '.join(res.get('command', sys.argv))}`; whole run {elapsed / 60:.1f} min. Each measurement runs in its own process, "
      f"one after another. Figures: median (min–max).")
    p("")
    p(f"Sizing (to fit {'a smoke run' if a.quick else 'about 20 minutes on 2 cores'}): fine-tuning steps "
      f"{a.warmup} warm-up + {a.train_steps} timed (small) / {a.base_steps} timed (base); evaluation: one pass over "
      f"{'all' if a.eval_full == 0 else f'the first {a.eval_full:,} of the'} 50,000 NSMC test reviews per system, "
      f"then {a.eval_reps} repetitions on the first {a.eval_subset:,}; pre-training {a.warmup} + {a.pretrain_steps} "
      f"steps of batch {a.pretrain_batch}; tokenizer {a.tok_reps} passes over the 50,000 reviews."
      + (" QUICK: the numbers below are meaningless." if a.quick else ""))
    p("")
    if "gemm_peak" in res["sections"]:
        p(f"**GEMM peak** (fp32 {a.gemm_n}×{a.gemm_n} `mm`, median of 7, each BLAS in its own process):")
        p("")
        p("| BLAS of | GFLOP/s median (min–max) |\n| --- | --- |")
        for k, v in res["sections"]["gemm_peak"].items():
            p(f"| {k} | {v['gflops_median']:.1f} ({v['gflops_min']:.1f}–{v['gflops_max']:.1f}) |")
        p("")
    if "train_step" in res["sections"]:
        p(f"**1. Fine-tuning step**, ElectraForSequenceClassification, batch {a.batch} × {a.seq} random tokens "
          f"(vocabulary 32,000, dropout 0.1, fp32), step = forward, loss, loss.item(), backward, clip-norm 1.0, "
          f"AdamW, zero_grad; {a.warmup} warm-up steps (torch.compile: +1), then small: {a.train_steps} steps, "
          f"base: {a.base_steps} steps. FLOPs per step = 3 × (2·P_mm·T + 4·L·S·H·T + 2·(H²+2H)·B), "
          f"P_mm = E·H + L·(4H² + 2H·I), T = B·S tokens; share = achieved FLOP/s ÷ the peak of the system's own BLAS.")
        p("")
        p("| model | system | ms/step | examples/s | GFLOP/s achieved | share of own GEMM peak | warm-up s |")
        p("| --- | --- | --- | --- | --- | --- | --- |")
        for r in res["sections"]["train_step"]:
            if "achieved_gflops" in r:
                p(f"| {r['model']} | {r['system']} | {fmt_ms(r['step_ms'])} | {r['examples_per_s']:.1f} | "
                  f"{r['achieved_gflops']:.1f} | {100 * r['share_of_peak']:.0f}% | {r['warmup_s']:.1f} |")
            else:
                p(f"| {r['model']} | {r['system']} | {fmt_ms(r['step_ms'])} | {r['examples_per_s']:.1f} | – | – | – |")
        p("")
        p(f"NSMC mix rows: batches of {a.batch} training reviews (max {a.seq} tokens), same `electra init` weights "
          f"+ seeded head on both sides. electra: its own trainer, `electra finetune --config "
          f"configs/korean/nsmc.yaml --stop-after N` (its shuffled order, each batch padded to its longest review: "
          f"`data.bucket_multiple` 0, automatic, is 1 on the CPU; per-step time from metrics.jsonl, logging every "
          f"step, `train.dump_batches` on); transformers eager: the very batches electra trained on, step for step "
          f"(the same reviews padded to the same length, replayed from electra's batches.jsonl; the shapes are in the "
          f"JSON). Shapes vary per step, so no FLOP share is given; "
          f"torch.compile is left out here (a recompile per length). Warm-up s of torch.compile rows is mostly "
          f"compilation.")
        p("")
    if "eval" in res["sections"]:
        e = res["sections"]["eval"]
        p(f"**2. Evaluation / prediction**, NSMC test, ELECTRA-small from `electra init --config small` (KoELECTRA "
          f"vocabulary, cased) + a seeded 2-label head, max length 128, batch {a.eval_batch}. "
          f"{'The whole file' if a.eval_full == 0 else 'The first'} ({e['examples_full']:,} reviews) once per "
          f"system: wall time (process start to exit, model load and "
          f"tokenization included), peak RSS, outputs; then {e['reps']} repetitions on the first "
          f"{e['examples_subset']:,} reviews. `electra eval` batches as the trainer's evaluation does; "
          f"`electra predict` in file order; transformers (`inference_mode`) and ORT sorted by length. ORT: "
          f"the model exported from transformers (eager attention, opset 17), `onnxruntime.transformers` optimizer "
          f"(fused: {', '.join(f'{k} {v}' for k, v in e['onnx_export']['fused_operators'].items())}), "
          f"ORT_ENABLE_ALL. Outputs against transformers eager on that pass: "
          f"{'all agree (argmax identical, logits within 1e-4)' if e['agree'] else 'DISAGREEMENT, see rows'}.")
        p("")
        p("| system | one pass: wall s | seq/s | peak RSS MB | subset: wall s | seq/s | argmax ≠ transformers "
          "| max \\|Δ logit\\| |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in e["rows"]:
            d = r["max_abs_logit_diff_vs_transformers"]
            p(f"| {r['system']} | {r['full_wall_s']:.1f} | {r['full_seq_per_s']:.0f} | {r['full_peak_rss_mb']:.0f} | "
              f"{fmt_ms(r['subset_wall_s'])} | {r['subset_seq_per_s']:.0f} | {r['argmax_mismatches_vs_transformers']} | "
              f"{'(labels only)' if d is None else f'{d:.2e}'} |")
        p("")
    if "pretrain" in res["sections"]:
        t = res["sections"]["pretrain"]
        p(f"**3. Pre-training step**, configs/pretrain/{{tiny,small}}.yaml shapes (generator H/4), batch {t['batch']} × "
          f"128 tokens, KoELECTRA vocabulary, dropout 0.1, fp32, {a.warmup} warm-up then {a.pretrain_steps} steps. "
          f"electra: `electra pretrain` on NSMC's test documents (packed to 128 tokens), its per-step time from "
          f"metrics.jsonl (the data pipeline included). transformers: ElectraForMaskedLM generator + "
          f"ElectraForPreTraining discriminator with shared embeddings, the same objective (15 % masking, lm head at "
          f"the masked positions, sampled replacements, MLM + 50·RTD, clip-norm 1.0, AdamW) on random tokens.")
        p("")
        p("| config | system | ms/step | tokens/s |\n| --- | --- | --- | --- |")
        for r in t["rows"]:
            p(f"| {r['size']} | {r['system']} | {fmt_ms(r['step_ms'])} | {r['tokens_per_s']:.0f} |")
        p("")
    if "tokenizer" in res["sections"]:
        t = res["sections"]["tokenizer"]
        p(f"**4. Tokenizer**, {t['corpus']}, {t['mb']:.2f} MB, KoELECTRA vocabulary, cased, [CLS] text [SEP], no "
          f"truncation; {a.tok_reps} repetitions. Token counts "
          f"{'identical' if t['same_token_count'] else 'DIFFER'} across systems.")
        p("")
        p("| system | threads | seconds | M tokens/s | MB/s |\n| --- | --- | --- | --- | --- |")
        for r in t["rows"]:
            s = r["seconds"]
            p(f"| {r['system']} | {r['threads']} | {s['median']:.3f} ({s['min']:.3f}–{s['max']:.3f}) | "
              f"{r['mtokens_per_s']:.2f} | {r['mb_per_s']:.2f} |")
        p("")
    p(goals(res))
    p("Not measured by this harness: electra's tokenizer on several threads (tokenizer_bench is one thread).")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2-3 minute smoke run: tiny counts, numbers meaningless")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--json", default=os.path.join(ROOT, "build", "bench-peers.json"))
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "real-data", "nsmc"))
    p.add_argument("--vocab", default=os.path.join(ROOT, "..", "shared", "real-data", "vocab", "koelectra"))
    p.add_argument("--work", default=None, help="scratch folder (default: a new temporary one, removed after)")
    p.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    p.add_argument("--build", default="build")
    p.add_argument("--build-torch2", default="build-torch2")
    p.add_argument("--sections", default="gemm,train,eval,pretrain,tok")
    p.add_argument("--no-compile", action="store_true", help="leave out transformers under torch.compile")
    p.add_argument("--no-mix", action="store_true", help="leave out the NSMC length-mix training rows")
    p.add_argument("--mix-base", action="store_true", help="also ELECTRA-base on the NSMC length mix (minutes)")
    p.add_argument("--compile-base", action="store_true", help="also ELECTRA-base under torch.compile (minutes)")
    p.add_argument("--compile-quick", action="store_true", help="--quick: keep torch.compile (left out by default)")
    p.add_argument("--eval-full", type=int, help="reviews of the single whole-file pass per system (0: all 50,000)")
    p.add_argument("--eval-subset", type=int, help="reviews of the repeated subset")
    p.add_argument("--eval-reps", type=int)
    p.add_argument("--render", metavar="JSON", help="print the table of an earlier run's JSON (measures nothing)")
    p.add_argument("--merge", metavar="JSON", nargs="*", default=[],
                   help="with --render: take further sections from these JSON files (e.g. a rerun of one section)")
    p.add_argument("--train-steps", type=int, help="timed steps, ELECTRA-small shapes")
    p.add_argument("--base-steps", type=int, help="timed steps, ELECTRA-base shapes")
    a = p.parse_args()
    # Full run: sized for about 20 minutes on 2 cores (see the header it prints); --quick: a smoke run of the path.
    full = dict(batch=32, seq=128, warmup=1, train_steps=5, base_steps=5, gemm_n=2048, eval_full=5000,
                eval_subset=1000, eval_reps=5, eval_batch=64, tok_reps=5, pretrain_batch=32, pretrain_steps=5)
    quick = dict(batch=8, seq=64, warmup=1, train_steps=2, base_steps=2, gemm_n=512, eval_full=200,
                 eval_subset=50, eval_reps=2, eval_batch=64, tok_reps=2, pretrain_batch=4, pretrain_steps=2)
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    if a.quick and not a.compile_quick:
        a.no_compile = True
    if a.render:
        res = json.load(open(a.render))
        for extra in a.merge:
            res["sections"].update(json.load(open(extra))["sections"])
        for k, v in res["settings"].items():
            setattr(a, k, v)
        a.quick, a.threads = res["quick"], res["threads"]
        b = argparse.Namespace(result=res)
        print(render(b, a, res["date"], res["elapsed_s"]))
        return 0
    a.data, a.vocab = os.path.abspath(a.data), os.path.abspath(a.vocab)
    tmp = a.work is None
    if tmp:
        import tempfile
        a.work = tempfile.mkdtemp(prefix="bench-peers-")
    os.makedirs(a.work, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    b = Bench(a)
    sections = a.sections.split(",")
    try:
        peak = b.gemm() if ("gemm" in sections or "train" in sections) else None
        if "train" in sections:
            b.train(peak)
        if "eval" in sections:
            b.evaluate()
        if "pretrain" in sections:
            b.pretrain()
        if "tok" in sections:
            b.tokenizer()
    finally:
        elapsed = time.perf_counter() - t0
        b.result.update(date=started, threads=a.threads, quick=a.quick, command=sys.argv, elapsed_s=elapsed,
                        settings={k: getattr(a, k) for k in full})
        with open(a.json, "w") as f:
            json.dump(b.result, f, indent=1)
        if tmp:
            shutil.rmtree(a.work, ignore_errors=True)
    print(render(b, a, started, elapsed))
    ok = b.result["sections"].get("eval", {}).get("agree", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
