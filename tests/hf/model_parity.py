#!/usr/bin/env python3
"""Model and checkpoint parity of electra with the real Hugging Face `transformers` (CPU, fp32, eval mode).

    .venv/bin/python tests/hf/model_parity.py --electra build/electra --work WORKDIR [--bound 1e-5]

Checkpoints are made three ways, and every class electra implements runs on them:
  A  written by transformers' `save_pretrained` (random tiny configs, every weight drawn at random so that a bias or
     LayerNorm read wrongly shows; embedding_size != hidden_size and equal; cased and uncased vocabularies, the
     tokenizer saved by ElectraTokenizerFast / BertTokenizerFast, plus vocab.txt in half of them (the other half as
     transformers 5 writes them: tokenizer.json and no vocab.txt, and `electra tokenize` checked on them as below);
     model.safetensors, and
     pytorch_model.bin as transformers 4's safe_serialization=False wrote it, torch.save of the state dict, since
     transformers 5 writes safetensors only) for ElectraModel, ElectraForSequenceClassification (3 labels, and
     regression: 1 label, problem_type regression), ElectraForTokenClassification, ElectraForQuestionAnswering,
     ElectraForPreTraining, ElectraForMaskedLM; and the same for BERT (model_type bert: BertModel, whose keys have no
     `bert.` prefix, BertForSequenceClassification 3 labels and regression, BertForTokenClassification,
     BertForQuestionAnswering, BertForPreTraining: masked LM + next sentence, BertForMaskedLM);
  B  written by `electra init` (a config.json file of 64 positions over a vocabulary whose tokenizer_config.json
     says 512; the `tiny` preset, uncased; a BERT config.json: a BertModel);
  C  written by `electra finetune` (a few steps on tests/fixtures/tasks: KorNLI 3 labels (from B's cased checkpoint
     with its tokenizer re-saved by transformers 5: tokenizer.json, no vocab.txt), KorSTS regression, Naver
     NER, KorQuAD; NSMC from the shipped examples/electra-nsmc-tiny with its tokenizer_config.json set to 512; KorNLI,
     Naver NER and KorQuAD from part A's BertModel: BERT's heads, written in BERT's layout) and
     by `electra pretrain` (tiny.yaml on tests/fixtures/pretrain, 64 positions: its discriminator and generator).
For each checkpoint, `electra predict --device cpu` runs text lines ({"text", "text_pair"}, one longer than the
model's positions) and id lines (input_ids + attention_mask with padding + token_type_ids), and lines with labels on
the pre-training heads (their loss); transformers runs the same inputs (text: AutoTokenizer on the checkpoint folder,
truncation=True, max_length = the model's positions). The masked LM runs with --top-k = vocab_size, so every logit
is compared.

Relative difference, per tensor: max|electra - transformers| / max|transformers| (a tensor: one line's output; for
sequence classification the logits of all lines, [lines, labels]); for a loss |a - b| / |b|. A case
passes when every tensor's relative difference is at most --bound (1e-5). Each line prints the case, the largest
absolute and relative differences over its tensors, and PASS/FAIL.

For everything electra writes (B, C): transformers loads it (the class named by config.json) with no missing,
unexpected or mismatched keys and no error messages (`output_loading_info=True`), and `AutoTokenizer` on the folder
with truncation=True gives `electra tokenize`'s ids (default length: the folder's model_max_length) on a text and a
pair longer than the model's positions, and no sequence longer than max_position_embeddings. BertForPreTraining runs
with --top-k = vocab_size too (its masked LM) and its next-sentence logits are compared.

Last, tools/checks/pretrain_parity.py --reference transformers runs on the pre-training run (its own bound, 1e-4).
Exit status 1 when any case fails.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402

torch.set_num_threads(2)
import transformers  # noqa: E402
from transformers import (AutoConfig, AutoTokenizer, BertConfig, BertTokenizerFast, ElectraConfig,  # noqa: E402
                          ElectraTokenizerFast)

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

WORDS = ("the a an movie was good bad sea holds ball and her sister it is my dog cat takes apple green red old man "
         "paints market in winter garden likes map by after lunch every morning young girl sees farmer knife sharp "
         "open file cannot natural language processing tech startup cafe naive uber").split()
CASED_EXTRA = "The A Movie Good Sister It My Dog Paris Seoul GOOD BAD 한 남자 기타 ##를 ##가 영화 좋다 中 國".split()
PUNCT = list(".,!?'-:;()\"")
TEXTS = [
    ("The movie was good.", None),
    ("A sea holds the ball, and her Sister!", "Was it GOOD? cannot open file"),
    ("Übung macht den Meister: café naïve Seoul 中國 한 남자가 기타를 영화", None),
    ("my old dog takes the green apple " * 14, "the farmer paints a red map in winter " * 10),  # > positions
]
LONG_TEXT = "the young girl sees an old map by the sea after lunch every morning , and her sister likes it . " * 60
LONG_PAIR = ("cannot open file " * 200, "the market in winter " * 150)


def log(msg):
    print(msg, flush=True)


class Report:
    def __init__(self, bound):
        self.bound = bound
        self.rows = []

    def compare(self, name, pairs):
        """pairs: (electra, reference) tensors or floats. One line: max abs, max relative, PASS/FAIL."""
        worst_abs = worst_rel = 0.0
        ok = bool(pairs)
        for got, ref in pairs:
            got = torch.as_tensor(got, dtype=torch.float64)
            ref = torch.as_tensor(ref, dtype=torch.float64)
            if got.shape != ref.shape:
                log(f"  {name}: shape {tuple(got.shape)} (electra) != {tuple(ref.shape)} (transformers)")
                ok, worst_abs, worst_rel = False, float("inf"), float("inf")
                continue
            diff = (got - ref).abs().max().item() if got.numel() else 0.0
            scale = ref.abs().max().item() if ref.numel() else 0.0
            rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
            worst_abs, worst_rel = max(worst_abs, diff), max(worst_rel, rel)
            ok = ok and rel <= self.bound
        self.add(name, worst_abs, worst_rel, ok, f"{len(pairs)} tensors")

    def check(self, name, ok, detail):
        self.add(name, None, None, ok, detail)

    def add(self, name, diff, rel, ok, detail):
        self.rows.append((name, ok))
        nums = f"max_abs {diff:.3e}  max_rel {rel:.3e}" if diff is not None else "max_abs -          max_rel -        "
        log(f"{name:<58} {nums}  {'PASS' if ok else 'FAIL'}  ({detail})")

    def failed(self):
        return [n for n, ok in self.rows if not ok]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-2000:]}\n"
                           f"{r.stderr[-4000:]}")
    return r


# ---------------------------------------------------------------------------------------------------- vocabularies
def write_vocab(folder, cased, positions):
    """A small WordPiece vocabulary and its tokenizer files, saved by transformers' own fast tokenizer classes."""
    os.makedirs(folder, exist_ok=True)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + PUNCT
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    if cased:
        letters += [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    tokens += letters + ["##" + c for c in letters] + ["##s", "##ing", "##ed"]
    tokens += WORDS + (CASED_EXTRA if cased else [])
    seen, vocab = set(), []
    for t in tokens:
        if t not in seen:
            seen.add(t)
            vocab.append(t)
    raw = os.path.join(folder, "vocab.txt")
    with open(raw, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    cls = ElectraTokenizerFast if cased else BertTokenizerFast
    tok = cls(vocab=raw, do_lower_case=not cased, strip_accents=None if not cased else False,
              model_max_length=positions)
    tok.save_pretrained(folder)
    return tok, len(vocab)


# ------------------------------------------------------------------------------------------------------- the models
HEADS = {
    "ElectraModel": {},
    "ElectraForSequenceClassification": {"num_labels": 3},
    "regression": {"num_labels": 1, "problem_type": "regression"},
    "ElectraForTokenClassification": {"num_labels": 5},
    "ElectraForQuestionAnswering": {},
    "ElectraForPreTraining": {},
    "ElectraForMaskedLM": {},
}


BERT_HEADS = {
    "BertModel": {},
    "BertForSequenceClassification": {"num_labels": 3},
    "bert-regression": {"num_labels": 1, "problem_type": "regression"},
    "BertForTokenClassification": {"num_labels": 5},
    "BertForQuestionAnswering": {},
    "BertForPreTraining": {},
    "BertForMaskedLM": {},
}


def hf_class(name):
    if name in ("regression", "bert-regression"):
        name = "BertForSequenceClassification" if name.startswith("bert") else "ElectraForSequenceClassification"
    return getattr(transformers, name)


def kind(head):
    """The head without its family: Model, ForSequenceClassification, regression, ..., ForMaskedLM."""
    if head.endswith("regression"):
        return "regression"
    return head.replace("Electra", "", 1).replace("Bert", "", 1)


def randomize(model, seed):
    """Every parameter drawn at random (HF's init leaves biases at 0 and LayerNorm at 1/0: a bias read wrongly would
    not show)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def write_hf_checkpoint(folder, head, E, H, cased, safetensors, seed, vocab_dir_cache, with_vocab_txt=True):
    positions = 40
    key = (cased, positions)
    if key not in vocab_dir_cache:
        where = os.path.join(os.path.dirname(folder), f"vocab-{'cased' if cased else 'uncased'}")
        vocab_dir_cache[key] = write_vocab(where, cased, positions)
    tok, V = vocab_dir_cache[key]
    if head in BERT_HEADS:  # no embedding_size: BERT's embeddings are H wide
        config = BertConfig(vocab_size=V, hidden_size=H, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=2 * H, max_position_embeddings=positions, type_vocab_size=2,
                            hidden_act="gelu", **BERT_HEADS[head])
    else:
        config = ElectraConfig(vocab_size=V, embedding_size=E, hidden_size=H, num_hidden_layers=2,
                               num_attention_heads=4, intermediate_size=2 * H, max_position_embeddings=positions,
                               type_vocab_size=2, hidden_act="gelu", **HEADS[head])
    torch.manual_seed(seed)
    model = hf_class(head)(config).eval()
    randomize(model, seed)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    # transformers 5's fast tokenizers save tokenizer.json and no vocab.txt; hub checkpoints carry vocab.txt, so half
    # the cases copy it in as they have it and the other half keep the folder as transformers 5 wrote it
    assert not os.path.exists(os.path.join(folder, "vocab.txt")), f"{folder}: transformers wrote vocab.txt"
    if with_vocab_txt:
        shutil.copy(os.path.join(os.path.dirname(folder), f"vocab-{'cased' if cased else 'uncased'}", "vocab.txt"),
                    folder)
    assert os.path.exists(os.path.join(folder, "model.safetensors")), f"{folder}: save_pretrained wrote no safetensors"
    if not safetensors:
        # transformers 5 writes safetensors only; pytorch_model.bin as transformers 4 wrote it (safe_serialization=
        # False): torch.save of the state dict, tied weights sharing one storage
        torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
        os.remove(os.path.join(folder, "model.safetensors"))


# ------------------------------------------------------------------------------------------------------ the inputs
def make_lines(folder, config, head, seed):
    """(line dicts for electra predict, reference inputs for transformers) for one checkpoint."""
    positions, V = config.max_position_embeddings, config.vocab_size
    tok = AutoTokenizer.from_pretrained(folder)
    lines, refs = [], []
    for text, pair in TEXTS:
        lines.append({"text": text} if pair is None else {"text": text, "text_pair": pair})
        enc = tok(text, pair, truncation=True, max_length=min(positions, 512))
        refs.append({k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
    g = torch.Generator().manual_seed(seed)
    for n, pad in ((positions, 0), (9, 3), (5, 0)):
        ids = torch.randint(5, V, (n,), generator=g).tolist()
        ids[0] = 2
        mask = [1] * (n - pad) + [0] * pad
        ids = [i if m else 0 for i, m in zip(ids, mask)]
        types = [0] * (n // 2) + [1] * (n - n // 2)
        item = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        lines.append(dict(item))
        refs.append(item)
    if head in ("ElectraForPreTraining", "ElectraForMaskedLM", "BertForMaskedLM"):
        for item in list(refs[len(TEXTS):]) + refs[:2]:
            n = len(item["input_ids"])
            if head == "ElectraForPreTraining":
                labels = torch.randint(0, 2, (n,), generator=g).tolist()
            else:
                labels = [-100] * n
                chosen = torch.randperm(sum(item["attention_mask"]), generator=g)[:max(1, n // 4)].tolist()
                for i in chosen:
                    labels[i] = int(torch.randint(0, V, (1,), generator=g))
            with_labels = dict(item, labels=labels)
            lines.append(with_labels)
            refs.append(with_labels)
    return lines, refs


def electra_outputs(electra, folder, lines, work, head, V):
    inp = os.path.join(work, os.path.basename(folder) + ".predict.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    cmd = [electra, "predict", "--model", folder, "--input", inp, "--device", "cpu", "--batch-size", "4"]
    if head in ("ElectraForMaskedLM", "BertForMaskedLM", "BertForPreTraining"):
        cmd += ["--top-k", str(V)]
    out = run(cmd).stdout.splitlines()
    assert len(out) == len(lines), f"{folder}: {len(out)} output lines for {len(lines)} inputs"
    return [json.loads(o) for o in out]


def compare_checkpoint(report, name, electra, folder, work, head, seed):
    """electra predict against transformers on one checkpoint folder; head: the HEADS key."""
    config = AutoConfig.from_pretrained(folder)
    model = hf_class(head).from_pretrained(folder, dtype=torch.float32).eval()
    lines, refs = make_lines(folder, config, head, seed)
    got = electra_outputs(electra, folder, lines, work, head, config.vocab_size)
    outputs, losses, rows, scores = [], [], [], []
    for g, r in zip(got, refs):
        if "error" in g:
            report.check(f"{name} outputs", False, g["error"])
            return
        kwargs = {k: torch.tensor([v]) for k, v in r.items()}
        with torch.no_grad():
            o = model(**kwargs)
        k = kind(head)
        if k == "Model":
            outputs.append((g["last_hidden_state"], o.last_hidden_state[0]))
        elif k in ("ForSequenceClassification", "regression"):  # one tensor [lines, labels], below
            rows.append((g["logits"], o.logits[0]))
            if k == "regression":
                scores.append(([g["score"]], o.logits[0]))
        elif k == "ForTokenClassification":
            outputs.append((g["logits"], o.logits[0]))
        elif k == "ForQuestionAnswering":
            outputs += [(g["start_logits"], o.start_logits[0]), (g["end_logits"], o.end_logits[0])]
        elif head == "ElectraForPreTraining":
            outputs.append((g["logits"], o.logits[0]))
        elif k in ("ForMaskedLM", "ForPreTraining"):  # ElectraForMaskedLM, BertForMaskedLM, BertForPreTraining
            vocab_logits = o.prediction_logits[0] if head == "BertForPreTraining" else o.logits[0]
            full = torch.full_like(vocab_logits, float("nan"))
            full.scatter_(1, torch.tensor(g["top_ids"]), torch.tensor(g["top_logits"], dtype=full.dtype))
            outputs.append((full, vocab_logits))
            if head == "BertForPreTraining":
                outputs.append((g["next_sentence_logits"], o.seq_relationship_logits[0]))
        if "labels" in r:
            if "loss" not in g:
                report.check(f"{name} loss", False, "electra predict gave no loss for a line with labels")
                return
            losses.append(([g["loss"]], [o.loss.item()]))
    for part in (rows, scores):
        if part:
            outputs.append((torch.tensor([a for a, _ in part]), torch.stack([b for _, b in part])))
    report.compare(f"{name} outputs", outputs)
    if losses:
        report.compare(f"{name} loss", losses)


# --------------------------------------------------------------------------------------- what electra writes: checks
def check_loading(report, name, folder):
    with open(os.path.join(folder, "config.json")) as f:
        arch = json.load(f)["architectures"][0]
    _, info = getattr(transformers, arch).from_pretrained(folder, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    detail = str(problems)[:300] if problems else "no missing/unexpected/mismatched keys"
    report.check(f"{name} loads in transformers", not problems, f"{arch}: {detail}")
    return arch


def check_tokenizer(report, name, electra, folder, work):
    with open(os.path.join(folder, "config.json")) as f:
        positions = json.load(f)["max_position_embeddings"]
    with open(os.path.join(folder, "tokenizer_config.json")) as f:
        declared = json.load(f).get("model_max_length")
    tok = AutoTokenizer.from_pretrained(folder)
    cases = [(t, p) for t, p in TEXTS] + [(LONG_TEXT, None), LONG_PAIR]
    inp = os.path.join(work, os.path.basename(folder) + ".tokenize.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        for t, p in cases:
            f.write(json.dumps({"text": t, "text_pair": p}, ensure_ascii=False) + "\n")
    out = run([electra, "tokenize", "--model", folder, "--input", inp]).stdout
    ours = [json.loads(x)["input_ids"] for x in out.splitlines()]
    bad = []
    longest = 0
    for (t, p), mine in zip(cases, ours):
        ref = tok(t, p, truncation=True)["input_ids"]
        longest = max(longest, len(ref))
        if ref != mine:
            bad.append(f"ids differ ({len(mine)} electra, {len(ref)} transformers)")
        if len(ref) > positions:
            bad.append(f"AutoTokenizer(truncation=True) gave {len(ref)} tokens > max_position_embeddings {positions}")
    ok = not bad and declared is not None and declared <= positions
    found = "; ".join(sorted(set(bad))) or f"{len(cases)} encodings equal"
    report.check(f"{name} tokenizer", ok,
                 f"model_max_length {declared}, positions {positions}, longest {longest}; {found}")


def electra_written(report, name, electra, folder, work, seed):
    arch = check_loading(report, name, folder)
    with open(os.path.join(folder, "config.json")) as f:
        problem = json.load(f).get("problem_type")
    head = ("bert-regression" if arch.startswith("Bert") else "regression") if problem == "regression" else arch
    compare_checkpoint(report, name, electra, folder, work, head, seed)
    check_tokenizer(report, name, electra, folder, work)


def guarded(report, name, fn, *args):
    """fn(*args); an exception (a command that failed, a file that transformers refuses) is a FAIL line, and the
    run goes on."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001
        report.check(name, False, f"{type(e).__name__}: {str(e).strip()[-600:]}")
        return None


def find_model(run_dir):
    """The model folder a fine-tuning run wrote (its best/ or last export: the newest folder with config.json)."""
    found = []
    for root, _, files in os.walk(run_dir):
        if "config.json" in files and ("model.safetensors" in files or "pytorch_model.bin" in files):
            found.append((os.path.getmtime(os.path.join(root, "config.json")), root))
    if not found:
        raise RuntimeError(f"{run_dir}: no exported model found")
    return max(found)[1]


# ------------------------------------------------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--electra", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--bound", type=float, default=1e-5)
    ap.add_argument("--skip-finetune", action="store_true", help="leave out part C's fine-tunes (quicker)")
    args = ap.parse_args()
    electra = os.path.abspath(args.electra)
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    report = Report(args.bound)
    start = time.time()
    log(f"transformers {transformers.__version__}, torch {torch.__version__}, electra {electra}; bound {args.bound} "
        f"relative (max|a-b| / max|ref| per tensor)")

    # A: written by transformers
    log("-- A: checkpoints written by transformers' save_pretrained")
    vocab_cache = {}
    seed = 100
    for fmt_i, safetensors in enumerate((True, False)):
        for i, head in enumerate(list(HEADS) + list(BERT_HEADS)):
            seed += 1
            cased = (i + fmt_i) % 2 == 1
            E, H = (16, 32) if (i + fmt_i) % 2 == 0 else (32, 32)
            if head == "ElectraForMaskedLM":
                E, H = (24, 16) if fmt_i == 0 else (16, 16)  # a generator: narrower than its embeddings, or as wide
            if head in BERT_HEADS:
                E = H = 32
            with_vocab_txt = i % 2 == 0
            short = head.replace("ElectraFor", "").replace("ElectraModel", "Model").replace("BertFor", "Bert-")
            tag = f"{short}-E{E}H{H}-" \
                  f"{'cased' if cased else 'uncased'}-{'st' if safetensors else 'bin'}" \
                  f"{'' if with_vocab_txt else '-no-vocab-txt'}"
            folder = os.path.join(work, "A", tag)
            write_hf_checkpoint(folder, head, E, H, cased, safetensors, seed, vocab_cache, with_vocab_txt)
            guarded(report, f"A/{tag}", compare_checkpoint, report, f"A/{tag}", electra, folder, work, head, seed)
            if not with_vocab_txt:
                guarded(report, f"A/{tag}", check_tokenizer, report, f"A/{tag}", electra, folder, work)

    # B: written by electra init
    log("-- B: checkpoints written by electra init")
    vocab = os.path.join(work, "vocab-korean")
    os.makedirs(vocab)
    shutil.copy(os.path.join(FIXTURES, "tokenizer", "vocab.txt"), vocab)
    with open(os.path.join(vocab, "tokenizer_config.json"), "w") as f:  # as examples/electra-nsmc-tiny's says
        json.dump({"do_lower_case": False, "strip_accents": None, "model_max_length": 512,
                   "tokenizer_class": "BertTokenizer"}, f)
    small = os.path.join(work, "small64.json")
    with open(small, "w") as f:
        json.dump({"model_type": "electra", "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
                   "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64}, f)
    init_ko = os.path.join(work, "B", "init-small64-cased")
    if guarded(report, "B/init-small64-cased", run,
               [electra, "init", "--config", small, "--vocab", vocab, "--cased", "--output", init_ko, "--seed", "3"]):
        guarded(report, "B/init-small64-cased", electra_written, report, "B/init-small64-cased", electra, init_ko, work,
                201)
    uvocab = os.path.join(work, "vocab-uncased-bare")  # vocab.txt alone: no model_max_length to start from
    os.makedirs(uvocab)
    shutil.copy(os.path.join(work, "A", "vocab-uncased", "vocab.txt"), uvocab)
    init_tiny = os.path.join(work, "B", "init-tiny-uncased")
    if guarded(report, "B/init-tiny-uncased", run,
               [electra, "init", "--config", "tiny", "--vocab", uvocab, "--uncased", "--output", init_tiny]):
        guarded(report, "B/init-tiny-uncased", electra_written, report, "B/init-tiny-uncased", electra, init_tiny, work,
                202)

    bert_json = os.path.join(work, "bert64.json")
    with open(bert_json, "w") as f:
        json.dump({"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                   "intermediate_size": 64, "max_position_embeddings": 64}, f)
    init_bert = os.path.join(work, "B", "init-bert64-uncased")
    if guarded(report, "B/init-bert64-uncased", run,
               [electra, "init", "--config", bert_json, "--vocab", uvocab, "--uncased", "--output", init_bert]):
        guarded(report, "B/init-bert64-uncased", electra_written, report, "B/init-bert64-uncased", electra, init_bert,
                work, 203)

    # C: written by electra finetune and electra pretrain
    if not args.skip_finetune:
        log("-- C: checkpoints written by electra finetune")
        tasks = os.path.join(FIXTURES, "tasks")
        common = ["--set", "train.epochs=2", "--set", "train.batch_size=4", "--set", "train.eval_batch_size=8",
                  "--set", "data.max_seq_length=64", "--device", "cpu", "--offline"]
        # the shipped demo model, its tokenizer_config.json saying 512 for 64 positions (as it shipped until
        # 2026-12-07): the fine-tune's export must say 64
        demo = os.path.join(work, "electra-nsmc-tiny-512")
        shutil.copytree(os.path.join(ROOT, "examples", "electra-nsmc-tiny"), demo)
        with open(os.path.join(demo, "tokenizer_config.json")) as f:
            tc = json.load(f)
        with open(os.path.join(demo, "tokenizer_config.json"), "w") as f:
            json.dump(dict(tc, model_max_length=512), f, indent=2)
        # init_ko as transformers 5 saves it: tokenizer.json and no vocab.txt; the export must carry a vocab.txt
        init_ko_json = os.path.join(work, "init-small64-cased-tokenizer-json")
        os.makedirs(init_ko_json)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(init_ko, name), init_ko_json)
        AutoTokenizer.from_pretrained(init_ko).save_pretrained(init_ko_json)
        assert not os.path.exists(os.path.join(init_ko_json, "vocab.txt"))
        runs = [("finetune-kornli-from-tokenizer-json", "configs/korean/kornli.yaml", init_ko_json, "kornli"),
                ("finetune-korsts", "configs/korean/korsts.yaml", init_ko, "korsts"),
                ("finetune-naver-ner", "configs/korean/naver-ner.yaml", init_ko, "naver-ner"),
                ("finetune-korquad", "configs/korean/korquad.yaml", init_ko, "korquad"),
                ("finetune-nsmc-demo-model", "configs/demo/nsmc.yaml", demo, "nsmc")]
        # BERT: part A's BertModel (no bert. prefix, a pooler) under BERT's heads
        bert_model = os.path.join(work, "A", sorted(d for d in os.listdir(os.path.join(work, "A"))
                                                    if d.startswith("BertModel-") and "-st" in d)[0])
        runs += [("finetune-kornli-from-bert", "configs/korean/kornli.yaml", bert_model, "kornli"),
                 ("finetune-naver-ner-from-bert", "configs/korean/naver-ner.yaml", bert_model, "naver-ner"),
                 ("finetune-korquad-from-bert", "configs/korean/korquad.yaml", bert_model, "korquad")]
        for i, (tag, config, model, task) in enumerate(runs):
            out = os.path.join(work, "C", tag)
            extra = ["--set", "data.doc_stride=16", "--set", "data.max_query_length=16"] if task == "korquad" else []
            cmd = [electra, "finetune", "--config", os.path.join(ROOT, config), "--model", model, "--data-dir",
                   os.path.join(tasks, task), "--output-dir", out] + common + extra
            if guarded(report, f"C/{tag}", lambda: run(cmd, cwd=ROOT)):
                guarded(report, f"C/{tag}", lambda: electra_written(report, f"C/{tag}", electra, find_model(out), work,
                                                                    300 + i))
                if model == init_ko_json:
                    report.check(f"C/{tag} export has vocab.txt",
                                 os.path.exists(os.path.join(find_model(out), "vocab.txt")), "written from tokenizer.json")

    log("-- C: exports of electra pretrain")
    pre = os.path.join(work, "C", "pretrain")
    pretrain_cmd = [electra, "--threads", "2", "pretrain", "--config",
                    os.path.join(ROOT, "configs", "pretrain", "tiny.yaml"), "--corpus",
                    os.path.join(FIXTURES, "pretrain", "corpus.txt"), "--vocab", os.path.join(FIXTURES, "pretrain"),
                    "--output-dir", pre, "--set", "train.max_steps=4", "--set", "train.save_every=4", "--set",
                    "train.batch_size=8", "--set", "model.max_position_embeddings=64", "--set",
                    "data.max_seq_length=64"]
    pretrained = guarded(report, "C/pretrain", run, pretrain_cmd)
    for sub, seed in (("discriminator", 401), ("generator", 402)) if pretrained else ():
        guarded(report, f"C/pretrain-{sub}", electra_written, report, f"C/pretrain-{sub}", electra,
                os.path.join(pre, sub), work, seed)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "checks", "pretrain_parity.py"), pre, electra,
                        os.path.join(work, "pretrain_parity"), "--reference", "transformers"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        log("  " + line)
    report.check("C/pretrain tools/checks/pretrain_parity.py --reference transformers", r.returncode == 0,
                 f"exit {r.returncode}; its bound 1e-4" + (f": {r.stderr.strip()[-400:]}" if r.returncode else ""))

    failed = report.failed()
    log(f"summary: {len(report.rows) - len(failed)} of {len(report.rows)} cases pass, {len(failed)} fail "
        f"({time.time() - start:.0f} s)" + (": " + ", ".join(failed) if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
