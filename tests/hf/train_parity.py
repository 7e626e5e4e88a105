#!/usr/bin/env python3
"""Training and pre-training parity of `electra` with the real Python `transformers`, on the CPU.

  python tests/hf/train_parity.py --electra build/electra --data ../shared/real-data --work WORKDIR [--fault lr-shift]

Fine-tuning (NSMC: ElectraForSequenceClassification; KorSTS: the same with one label, regression; Naver NER:
ElectraForTokenClassification; KorQuAD: ElectraForQuestionAnswering), on samples of the real files, from one
`electra init` checkpoint (the real KoELECTRA vocabulary, dropout 0):
  `electra finetune ... --set train.dump_batches=true` trains 50 AdamW steps (linear warmup/decay, clipping 1.0) and
  writes what it trained from and on: initial/ (the weights at step 0, the new head included), the features, and
  per step the lr and each batch's feature indices and padded length. The same 50 steps are then run in plain
  PyTorch on transformers' classes loaded from initial/, with torch.optim.AdamW and transformers'
  get_linear_schedule_with_warmup, parameter groups built here from electra's documented rule (train/optimizer.h:
  no weight decay on biases and LayerNorm weights; lr * decay^(L + 1 - depth), depth 0 for the embeddings and
  their projection, i + 1 for encoder layer i, L + 1 for the head). Checked: every step's loss (electra's
  metrics.jsonl with train.logging_every=1 holds each step's own loss) within 1e-4 relative, the lr of every step,
  the loss of step 1 with and without the bucket padding, and the scored split: predictions decoded here from
  transformers' logits, scored by tools/checks/score_reference.py (scipy, seqeval's and KorQuAD's official rules written
  out), against electra's results.json. Twice: plain (lr 3e-3, 5 warmup steps), then with layer-wise LR decay 0.8 and weight decay 0.1 (large enough that
  decaying a bias or LayerNorm weight by mistake shows in the loss).

Pre-training: one `electra pretrain` step with train.dump_first_step=true (the initial pair, the step's inputs,
masks and replacements, losses and every gradient before clipping), against ElectraForMaskedLM (generator) +
ElectraForPreTraining (discriminator) loaded from the initial pair, the embeddings shared and the generator's
lm head tied to them as electra has them, on the same masked input and replacements: MLM loss, RTD loss and every
gradient within 1e-4 (relative to the tensor's largest magnitude); the masking rule (k per row) checked too.

--fault lr-shift runs the Python side's schedule one step ahead (a deliberately broken reference): the script must
then fail; --fault depth-shift (layer-wise decay one layer off) and --fault decay-all (weight decay on biases and
LayerNorm weights too) break the parameter groups, which only the llrd-wd cases see. Exit status 0 only when every
case passes.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "checks"))
import score_reference  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

LOSS_RTOL = 1e-4
GRAD_RTOL = 1e-4
STEPS = 50
BATCH = 16
SEQ = 64

TINY_CONFIG = {
    "architectures": ["ElectraModel"], "model_type": "electra", "embedding_size": 32, "hidden_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 128,
    "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
}


def run(cmd, log):
    with open(log, "w") as out:
        rc = subprocess.run([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        tail = Path(log).read_text()[-3000:]
        raise RuntimeError(f"command failed ({rc}): {' '.join(map(str, cmd))}\n{tail}")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------- samples of the real files

def head_lines(src, dst, first, count, header):
    lines = Path(src).read_text(encoding="utf-8").splitlines(keepends=True)
    body = lines[1:] if header else lines
    out = (lines[:1] if header else []) + body[first:first + count]
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    Path(dst).write_text("".join(out), encoding="utf-8")


def make_samples(data, work):
    d = work / "data"
    head_lines(data / "nsmc/ratings_train.txt", d / "nsmc/ratings_train.txt", 0, 1000, True)
    head_lines(data / "nsmc/ratings_test.txt", d / "nsmc/ratings_test.txt", 0, 400, True)
    head_lines(data / "korsts/sts-train.tsv", d / "korsts/sts-train.tsv", 0, 1000, True)
    head_lines(data / "korsts/sts-dev.tsv", d / "korsts/sts-dev.tsv", 0, 400, True)
    head_lines(data / "korsts/sts-test.tsv", d / "korsts/sts-test.tsv", 0, 50, True)
    # Naver NER: only the real test file is here; its first 1,000 sentences train, its last 400 are scored.
    ner = (data / "naver-ner/test.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "naver-ner").mkdir(parents=True, exist_ok=True)
    (d / "naver-ner/train.tsv").write_text("".join(ner[:1000]), encoding="utf-8")
    (d / "naver-ner/test.tsv").write_text("".join(ner[-400:]), encoding="utf-8")
    # KorQuAD: only the real dev file is here; its first 3 articles train, its last one is scored.
    squad = json.loads((data / "korquad/KorQuAD_v1.0_dev.json").read_text(encoding="utf-8"))
    (d / "korquad").mkdir(parents=True, exist_ok=True)
    for name, articles in (("KorQuAD_v1.0_train.json", squad["data"][:3]),
                           ("KorQuAD_v1.0_dev.json", squad["data"][-1:])):
        (d / "korquad" / name).write_text(json.dumps({"version": squad.get("version", "KorQuAD_v1.0_dev"),
                                                      "data": articles}, ensure_ascii=False), encoding="utf-8")
    return d


def make_vocab(data, work):
    v = work / "vocab"
    v.mkdir(parents=True, exist_ok=True)
    shutil.copy(data / "vocab/koelectra/vocab.txt", v / "vocab.txt")
    (v / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}) + "\n")
    return v


# ---------------------------------------------------------------- the Python side of fine-tuning

HEADS = {
    "nsmc": ("sequence_classification", transformers.ElectraForSequenceClassification),
    "korsts": ("regression", transformers.ElectraForSequenceClassification),
    "naver-ner": ("token_classification", transformers.ElectraForTokenClassification),
    "korquad": ("span_extraction", transformers.ElectraForQuestionAnswering),
}


def head_of(task):
    return HEADS[task][0]


def parameter_groups(model, lr, weight_decay, decay, fault=None):
    """electra's rule (train/optimizer.cpp, ElectraModel::parameter_depth), written from its documentation."""
    layers = model.config.num_hidden_layers
    groups, scales = [], []
    for name, p in model.named_parameters():
        if name.startswith("electra.embeddings.") or name.startswith("electra.embeddings_project."):
            depth = 0
        elif name.startswith("electra.encoder.layer."):
            depth = int(name.split(".")[3]) + 1
        elif name.startswith("electra."):
            raise SystemExit(f"unexpected encoder parameter {name}")
        else:
            depth = layers + 1  # the head
        if fault == "depth-shift" and depth <= layers:  # broken: every encoder part one layer deeper
            depth += 1
        scale = decay ** (layers + 1 - depth)
        no_decay = name.endswith("bias") or name.endswith("LayerNorm.weight")
        if fault == "decay-all":  # broken: weight decay on biases and LayerNorm weights too
            no_decay = False
        wd = 0.0 if no_decay else weight_decay
        groups.append({"params": [p], "lr": lr * scale, "weight_decay": wd, "name": name})
        scales.append(scale)
    return groups, scales


def collate(features, indices, length, head):
    b = len(indices)
    ids = torch.zeros(b, length, dtype=torch.long)
    mask = torch.zeros(b, length, dtype=torch.long)
    types = torch.zeros(b, length, dtype=torch.long)
    targets = {}
    if head == "token_classification":
        targets["labels"] = torch.full((b, length), -100, dtype=torch.long)
    for r, i in enumerate(indices):
        f = features[i]
        n = len(f["input_ids"])
        ids[r, :n] = torch.tensor(f["input_ids"])
        mask[r, :n] = 1
        types[r, :n] = torch.tensor(f["token_type_ids"])
        if head == "token_classification":
            targets["labels"][r, :n] = torch.tensor(f["token_labels"])
    if head == "sequence_classification":
        targets["labels"] = torch.tensor([features[i]["label"] for i in indices], dtype=torch.long)
    elif head == "regression":
        targets["labels"] = torch.tensor([features[i]["score"] for i in indices], dtype=torch.float32)
    elif head == "span_extraction":
        targets["start_positions"] = torch.tensor([features[i]["start_position"] for i in indices])
        targets["end_positions"] = torch.tensor([features[i]["end_position"] for i in indices])
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types, **targets)


def python_train(run_dir, task, hp, fault):
    head, cls = HEADS[task]
    model = cls.from_pretrained(run_dir / "initial")
    cfg = model.config
    assert cfg.hidden_dropout_prob == 0 and cfg.attention_probs_dropout_prob == 0, "dropout must be off"
    assert getattr(cfg, "classifier_dropout", None) in (None, 0, 0.0), "classifier dropout must be off"
    if head == "regression":
        assert cfg.num_labels == 1
    model.train()
    groups, scales = parameter_groups(model, hp["lr"], hp["weight_decay"], hp["decay"], fault)
    opt = torch.optim.AdamW(groups, lr=hp["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, foreach=False)
    sched = transformers.get_linear_schedule_with_warmup(opt, hp["warmup"], STEPS)
    if fault == "lr-shift":  # a deliberately broken reference: transformers' schedule one step ahead
        hf_lambda = sched.lr_lambdas[0]
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: hf_lambda(step + 1))
    features = read_jsonl(run_dir / "features_train.jsonl")
    steps = read_jsonl(run_dir / "batches.jsonl")
    assert len(steps) == STEPS, f"{len(steps)} steps in batches.jsonl"
    losses, lrs, norms, padding_diff = [], [], [], None
    for k, step in enumerate(steps):
        assert step["step"] == k + 1 and len(step["micro_batches"]) == 1
        mb = step["micro_batches"][0]
        batch = collate(features, mb["feature_indices"], mb["length"], head)
        if k == 0:  # padding: the batch's longest, electra's bucket length and 96 positions give the same loss
            longest = max(len(features[i]["input_ids"]) for i in mb["feature_indices"])
            with torch.no_grad():
                a = model(**batch).loss.item()
                b = model(**collate(features, mb["feature_indices"], longest, head)).loss.item()
                c = model(**collate(features, mb["feature_indices"], model.config.max_position_embeddings,
                                    head)).loss.item()
            padding_diff = (max(abs(a - b), abs(c - b)) / abs(b), mb["length"], longest,
                            model.config.max_position_embeddings)
        lrs.append(sched.get_last_lr()[0] / scales[0])
        out = model(**batch)
        out.loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        losses.append(out.loss.item())
        opt.step()
        sched.step()
        opt.zero_grad()
    return model, losses, lrs, norms, padding_diff


def logits_of(model, features, head):
    model.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(features), 64):
            chunk = features[s:s + 64]
            longest = max(len(f["input_ids"]) for f in chunk)
            batch = collate(chunk, list(range(len(chunk))), longest, "none")
            o = model(**batch)
            for r, f in enumerate(chunk):
                n = len(f["input_ids"])
                if head == "span_extraction":
                    outs.append((o.start_logits[r, :n].tolist(), o.end_logits[r, :n].tolist()))
                elif head == "token_classification":
                    outs.append(o.logits[r, :n].tolist())
                else:
                    outs.append(o.logits[r].tolist())
    return outs


def qa_decode(examples, features, outs, n_best=20, max_answer=30):
    """HF/SQuAD-style: n-best starts and ends per window, a start counted only in the window where its token has
    the most context, the best start+end logit sum; the answer is the context's characters it covers."""
    by_example = {}
    for i, f in enumerate(features):
        by_example.setdefault(f["example_index"], []).append(i)
    answers = []
    for e, (qid, context) in enumerate(examples):
        best_window = {}
        for i in by_example[e]:
            pos = [p for p, o in enumerate(features[i]["offsets"]) if o[0] >= 0]
            for k, p in enumerate(pos):
                score = min(k, len(pos) - 1 - k) + 0.01 * len(pos)
                key = features[i]["offsets"][p][0]
                if key not in best_window or score > best_window[key][0]:
                    best_window[key] = (score, i)
        best, span = None, None
        for i in by_example[e]:
            offsets = features[i]["offsets"]
            start_logits, end_logits = outs[i]
            starts = sorted(range(len(start_logits)), key=lambda j: -start_logits[j])[:n_best]
            ends = sorted(range(len(end_logits)), key=lambda j: -end_logits[j])[:n_best]
            for s in starts:
                if offsets[s][0] < 0 or best_window[offsets[s][0]][1] != i:
                    continue
                for t in ends:
                    if offsets[t][0] < 0 or t < s or t - s + 1 > max_answer:
                        continue
                    score = start_logits[s] + end_logits[t]
                    if best is None or score > best:
                        best, span = score, (offsets[s][0], offsets[t][1])
        answers.append((qid, context[span[0]:span[1]] if span else ""))
    return answers


def python_score(model, run_dir, task, split, data_dir, work):
    head, _ = HEADS[task]
    features = read_jsonl(run_dir / f"features_{split}.jsonl")
    outs = logits_of(model, features, head)
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    if head == "sequence_classification":
        pred = [id2label[int(np.argmax(o))] for o in outs]
        gold = [id2label[f["label"]] for f in features]
        return {"accuracy": 100.0 * sum(p == g for p, g in zip(pred, gold)) / len(gold)}, pred
    if head == "regression":
        pred = [o[0] for o in outs]
        return score_reference.regression({"gold": [f["score"] for f in features], "pred": pred}), pred
    if head == "token_classification":
        rows = [line.split("\t") for line in (data_dir / task / "test.tsv").read_text(encoding="utf-8").splitlines()]
        gold_all = [r[1].split() for r in rows]
        pred = [None] * len(gold_all)
        for f, o in zip(features, outs):
            pred[f["example_index"]] = [id2label[int(np.argmax(o[t]))] for t, lab in enumerate(f["token_labels"])
                                        if lab != -100]
        gold = [g[:len(p)] for g, p in zip(gold_all, pred)]  # words lost to truncation are not scored
        return score_reference.entity({"gold": gold, "pred": pred}), [" ".join(p) for p in pred]
    dataset = data_dir / task / "KorQuAD_v1.0_dev.json"
    examples = [(qa["id"], par["context"]) for art in json.loads(dataset.read_text(encoding="utf-8"))["data"]
                for par in art["paragraphs"] for qa in par["qas"]]
    assert len(examples) == max(f["example_index"] for f in features) + 1
    answers = qa_decode(examples, features, outs)
    pred_file = work / f"{run_dir.name}-python-predictions.json"
    pred_file.write_text(json.dumps(dict(answers), ensure_ascii=False), encoding="utf-8")
    return score_reference.korquad({"dataset": str(dataset), "predictions": str(pred_file)}), [a for _, a in answers]


def finetune_case(args, init_dir, data_dir, task, variant, hp):
    run_dir = args.work / f"run-{task}-{variant}"
    shutil.rmtree(run_dir, ignore_errors=True)
    sets = {
        "data.max_seq_length": SEQ, "data.bucket_multiple": 32, "train.max_steps": STEPS, "train.batch_size": BATCH,
        "train.logging_every": 1, "train.eval_every": 0, "train.eval_each_epoch": "false",
        "train.select_best": "false", "train.save_every": 0, "train.eval_batch_size": 64,
        "train.dump_batches": "true", "seeds": "[42]", "optimizer.learning_rate": hp["lr"],
        "optimizer.weight_decay": hp["weight_decay"], "optimizer.layerwise_lr_decay": hp["decay"],
        "optimizer.adam_epsilon": 1e-8, "optimizer.max_grad_norm": 1.0, "schedule.name": "linear",
        "schedule.warmup_steps": hp["warmup"],
    }
    if task == "korquad":
        sets.update({"data.doc_stride": 32, "data.max_query_length": 16})
    cmd = [args.electra, "--threads", "1", "finetune", "--config", REPO / f"configs/korean/{task}.yaml",
           "--model", init_dir, "--data-dir", data_dir / task, "--output-dir", run_dir, "--offline"]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    t0 = time.time()
    run(cmd, args.work / f"run-{task}-{variant}.log")
    t_electra = time.time() - t0
    electra_steps = [j for j in read_jsonl(run_dir / "metrics.jsonl") if j["type"] == "train"]
    electra_lrs = [j["lr"] for j in read_jsonl(run_dir / "batches.jsonl")]
    results = json.loads((run_dir / "results.json").read_text())

    t0 = time.time()
    model, losses, lrs, norms, padding = python_train(run_dir, task, hp, args.fault)
    split = "dev" if "dev" in results["split_metrics"] else "test"
    py_metrics, py_pred = python_score(model, run_dir, task, split, data_dir, args.work)
    t_python = time.time() - t0

    failures = []
    if [j["step"] for j in electra_steps] != list(range(1, STEPS + 1)):
        failures.append("metrics.jsonl does not log every step")
    rel = [abs(a["loss"] - b) / max(abs(a["loss"]), 1e-12) for a, b in zip(electra_steps, losses)]
    worst = int(np.argmax(rel))
    if rel[worst] > LOSS_RTOL:
        failures.append(f"step {worst + 1} loss electra {electra_steps[worst]['loss']:.7g} python {losses[worst]:.7g}"
                        f" (rel {rel[worst]:.2e} > {LOSS_RTOL:g})")
    lr_rel = max(abs(a - b) / max(a, 1e-30) if a > 0 else abs(b) for a, b in zip(electra_lrs, lrs))
    if lr_rel > 1e-9:
        k = next(i for i, (a, b) in enumerate(zip(electra_lrs, lrs)) if abs(a - b) > 1e-9 * max(a, 1e-30))
        failures.append(f"step {k + 1} lr electra {electra_lrs[k]:.6g} python {lrs[k]:.6g}")
    gn_rel = max(abs(a["grad_norm"] - b) / max(a["grad_norm"], 1e-12) for a, b in zip(electra_steps, norms))
    # transformers' ElectraForQuestionAnswering takes the cross-entropy over every position, padding included (its
    # logits are not masked), and electra's span loss does the same: there padding changes the loss on both sides,
    # and the steps above compare the two at electra's own padded length.
    padding_note = "changes it on both sides (QA logits unmasked)" if head_of(task) == "span_extraction" else \
        f"rel {padding[0]:.0e}"
    if padding[0] > 1e-6 and head_of(task) != "span_extraction":
        failures.append(f"step 1 loss padded to {padding[1]} vs {padding[2]}: rel {padding[0]:.2e}")
    electra_metrics = results["split_metrics"][split]
    metric_diffs = {k: abs(electra_metrics[k] - v) for k, v in py_metrics.items()}
    # Discrete predictions (labels, tags, answer texts) that agree give the same metric to rounding; regression
    # scores agree to ~1e-6, which moves a correlation (x100) by ~1e-5.
    metric_tol = 1e-3 if head_of(task) == "regression" else 1e-6
    if max(metric_diffs.values()) > metric_tol:
        failures.append("metric " + ", ".join(f"{k} electra {electra_metrics[k]:.4f} python {v:.4f}"
                                              for k, v in py_metrics.items()))
    electra_pred = (run_dir / f"predictions_{split}.txt").read_text(encoding="utf-8").split("\n")[:len(py_pred)]
    if task == "korsts":
        mismatched = sum(abs(float(a) - b) > 1e-4 * max(1.0, abs(b)) for a, b in zip(electra_pred, py_pred))
    else:
        mismatched = sum(a != b for a, b in zip(electra_pred, py_pred))
    if mismatched:
        failures.append(f"{mismatched} of {len(py_pred)} predictions differ")
    main = results["main_metric"]
    main_key = {"spearman": "spearman", "accuracy": "accuracy", "f1": "f1"}.get(main, main)
    line = (f"{'FAIL' if failures else 'ok  '} finetune {task:<9} {variant:<9} {STEPS} steps: loss max rel diff "
            f"{rel[worst]:.1e} (step {worst + 1}; step 1 {electra_steps[0]['loss']:.5f} / {losses[0]:.5f}, "
            f"step {STEPS} {electra_steps[-1]['loss']:.5f} / {losses[-1]:.5f}), grad-norm max rel {gn_rel:.1e}, "
            f"lr max rel {lr_rel:.0e}, step-1 loss padded to {padding[2]}/{padding[1]}/{padding[3]}: {padding_note}; {split} {main_key} "
            f"electra {electra_metrics[main_key]:.4f} python {py_metrics[main_key]:.4f} (all metrics: max diff "
            f"{max(metric_diffs.values()):.0e}), predictions differing "
            f"{mismatched}/{len(py_pred)}  [{t_electra:.0f}+{t_python:.0f} s]")
    print(line, flush=True)
    for f in failures:
        print(f"     {f}", flush=True)
    return not failures, {"task": task, "variant": variant, "loss_max_rel": rel[worst], "grad_norm_max_rel": gn_rel,
                          "metric": main_key, "electra": electra_metrics[main_key], "python": py_metrics[main_key],
                          "predictions_differing": mismatched, "failures": failures}


# ---------------------------------------------------------------- pre-training

def pretrain_case(args, vocab_dir):
    corpus = args.work / "pretrain-corpus.txt"
    rows = (args.data / "nsmc/ratings_train.txt").read_text(encoding="utf-8").splitlines()[1:401]
    corpus.write_text("".join(r.split("\t")[1] + "\n" for r in rows if r.split("\t")[1].strip()), encoding="utf-8")
    out = args.work / "pretrain-run"
    shutil.rmtree(out, ignore_errors=True)
    sets = {"train.max_steps": 1, "train.batch_size": 8, "train.logging_every": 1, "train.save_every": 1,
            "train.dump_first_step": "true", "data.max_seq_length": 64, "data.document_format": "line",
            "model.hidden_dropout_prob": 0, "model.attention_probs_dropout_prob": 0, "schedule.warmup_steps": 0}
    cmd = [args.electra, "--threads", "1", "pretrain", "--config", REPO / "configs/pretrain/tiny.yaml",
           "--corpus", corpus, "--vocab", vocab_dir, "--output-dir", out]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    t0 = time.time()
    run(cmd, args.work / "pretrain-run.log")
    dump = load_file(str(out / "first_step.safetensors"))
    disc = transformers.ElectraForPreTraining.from_pretrained(out / "initial/discriminator")
    gen = transformers.ElectraForMaskedLM.from_pretrained(out / "initial/generator")
    for m in (disc, gen):
        assert m.config.hidden_dropout_prob == 0 and m.config.attention_probs_dropout_prob == 0
    # electra's pair holds one embeddings module; the generator's lm head weight is its word embedding matrix.
    for name, p in gen.electra.embeddings.named_parameters():
        assert torch.equal(p, dict(disc.electra.embeddings.named_parameters())[name]), name
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    disc.train()
    gen.train()
    ids, mask, types = dump["input_ids.0"], dump["attention_mask.0"], dump["token_type_ids.0"]
    masked, positions, disc_input = dump["masked_input_ids.0"], dump["positions.0"].bool(), dump["discriminator_input.0"]
    failures = []
    # The masking rule: k = min(max_predictions, max(1, round_half_even(0.15 n))) per row, never a special token,
    # the chosen positions are [MASK] or keep their token, the rest is untouched; the discriminator sees originals
    # outside the chosen positions.
    tok = [line.rstrip("\n") for line in open(vocab_dir / "vocab.txt", encoding="utf-8")]
    special = {tok.index(t) for t in ("[CLS]", "[SEP]", "[MASK]", "[PAD]")}
    max_pred = int((0.15 + 0.005) * 64)
    for r in range(ids.shape[0]):
        n = int(mask[r].sum())
        candidates = sum(1 for t in ids[r, :n].tolist() if t not in special)
        k = min(max_pred, max(1, round(0.15 * n)), candidates)
        if int(positions[r].sum()) != k:
            failures.append(f"row {r}: {int(positions[r].sum())} positions chosen, expected {k}")
    if any(int(t) in special for t in ids[positions].tolist()):
        failures.append("a special token was chosen")
    if not torch.equal(masked[~positions], ids[~positions]) or not torch.equal(disc_input[~positions], ids[~positions]):
        failures.append("tokens outside the chosen positions changed")
    mask_id = tok.index("[MASK]")
    if not bool(((masked[positions] == mask_id) | (masked[positions] == ids[positions])).all()):
        failures.append("a chosen position is neither [MASK] nor its token")

    labels = torch.where(positions, ids, torch.full_like(ids, -100))
    mlm = gen(input_ids=masked, attention_mask=mask, token_type_ids=types, labels=labels).loss
    rtd_labels = (disc_input != ids).long()
    rtd = disc(input_ids=disc_input, attention_mask=mask, token_type_ids=types, labels=rtd_labels).loss
    loss = mlm + 50.0 * rtd
    loss.backward()
    checks = [("mlm_loss", mlm.item()), ("rtd_loss", rtd.item()), ("loss", loss.item())]
    loss_rel = {}
    for name, value in checks:
        e = dump[name].item()
        loss_rel[name] = abs(e - value) / abs(e)
        if loss_rel[name] > LOSS_RTOL:
            failures.append(f"{name} electra {e:.7g} python {value:.7g} (rel {loss_rel[name]:.1e})")
    py_params = {"discriminator." + n: p for n, p in disc.named_parameters(remove_duplicate=False)}
    py_params.update({"generator." + n: p for n, p in gen.named_parameters(remove_duplicate=False)
                      if not n.startswith("electra.embeddings.")})
    grads = {k[len("grad."):]: v for k, v in dump.items() if k.startswith("grad.")}
    covered = set()
    worst_name, worst = None, 0.0
    # Relative to the tensor's largest magnitude; a tensor whose gradient is zero in exact arithmetic (the attention
    # keys' biases: softmax ignores a constant added to every score) holds rounding noise only (~1e-12 on both sides),
    # so the denominator is at least 1e-6 of the largest gradient anywhere.
    floor = 1e-6 * max(g.abs().max().item() for g in grads.values())
    for name, g in grads.items():
        if name not in py_params:
            failures.append(f"electra's gradient {name} has no transformers parameter")
            continue
        p = py_params[name]
        covered.add(id(p))
        pg = p.grad if p.grad is not None else torch.zeros_like(p)
        rel = (pg.double() - g.double()).abs().max().item() / max(g.abs().max().item(), floor)
        if rel > worst:
            worst_name, worst = name, rel
        if rel > GRAD_RTOL:
            failures.append(f"gradient {name}: max diff {rel:.1e} of its max |g| {g.abs().max().item():.3g}")
    missing = [n for n, p in py_params.items() if id(p) not in covered and p.requires_grad]
    if missing:
        failures.append(f"transformers parameters without an electra gradient: {missing[:5]}")
    elapsed = time.time() - t0
    print(f"{'FAIL' if failures else 'ok  '} pretrain  1 step, batch {ids.shape[0]}x{ids.shape[1]}, "
          f"{int(positions.sum())} masked, {int(rtd_labels[mask.bool()].sum())} replaced: mlm electra "
          f"{dump['mlm_loss'].item():.6f} python {mlm.item():.6f} (rel {loss_rel['mlm_loss']:.1e}), rtd electra "
          f"{dump['rtd_loss'].item():.6f} python {rtd.item():.6f} (rel {loss_rel['rtd_loss']:.1e}); "
          f"{len(grads)} gradients, max rel diff {worst:.1e} ({worst_name})  [{elapsed:.0f} s]", flush=True)
    for f in failures:
        print(f"     {f}", flush=True)
    return not failures, {"mlm_rel": loss_rel["mlm_loss"], "rtd_rel": loss_rel["rtd_loss"], "grad_max_rel": worst,
                          "gradients": len(grads), "failures": failures}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--electra", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True, help="the real-data folder (../shared/real-data)")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--tasks", default="nsmc,korsts,naver-ner,korquad")
    ap.add_argument("--variants", default="plain,llrd-wd")
    ap.add_argument("--no-pretrain", action="store_true")
    ap.add_argument("--model", type=Path, help="fine-tune this checkpoint (dropout 0) instead of an electra init one")
    # Deliberately broken references, to show that the checks catch them: lr-shift (transformers' schedule one step
    # ahead), depth-shift (layer-wise decay one layer off), decay-all (weight decay on biases and LayerNorm too).
    ap.add_argument("--fault", choices=["lr-shift", "depth-shift", "decay-all"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.electra = args.electra.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    args.work = args.work.resolve()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start = time.time()
    print(f"train_parity: electra {args.electra}, transformers {transformers.__version__}, torch {torch.__version__}"
          + (f", FAULT {args.fault}" if args.fault else ""), flush=True)

    vocab = make_vocab(args.data, args.work)
    data_dir = make_samples(args.data, args.work)
    if args.model:
        init_dir = args.model.resolve()
    else:
        init_dir = args.work / "init"
        shutil.rmtree(init_dir, ignore_errors=True)
        (args.work / "tiny-config.json").write_text(json.dumps(TINY_CONFIG, indent=2))
        run([args.electra, "init", "--config", args.work / "tiny-config.json", "--vocab", vocab, "--cased",
             "--output", init_dir, "--seed", "7"], args.work / "init.log")

    variants = {
        "plain": {"lr": 3e-3, "weight_decay": 0.0, "decay": 1.0, "warmup": 5},
        "llrd-wd": {"lr": 3e-3, "weight_decay": 0.1, "decay": 0.8, "warmup": 5},
    }
    results, ok = [], True
    for variant in args.variants.split(","):
        for task in args.tasks.split(","):
            try:
                passed, r = finetune_case(args, init_dir, data_dir, task, variant, variants[variant])
            except Exception as e:  # a case that cannot run is a failure, the others still run
                passed, r = False, {"task": task, "variant": variant, "failures": [repr(e)]}
                print(f"FAIL finetune {task} {variant}: {e}", flush=True)
            ok &= passed
            results.append(r)
    if not args.no_pretrain:
        try:
            passed, r = pretrain_case(args, vocab)
        except Exception as e:
            passed, r = False, {"failures": [repr(e)]}
            print(f"FAIL pretrain: {e}", flush=True)
        ok &= passed
        results.append({"pretrain": r})
    (args.work / "train_parity.json").write_text(json.dumps(results, indent=2))
    failed = sum(1 for r in results if (r.get("pretrain") or r)["failures"])
    print(f"train_parity: {len(results) - failed} of {len(results)} cases passed, {failed} failed "
          f"({time.time() - start:.0f} s){'' if ok else ' -- FAILED'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
