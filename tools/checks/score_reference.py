#!/usr/bin/env python3
"""Reference scores for `make test-real`: the metrics of `electra score`, computed the way the published
evaluations compute them, so that the C++ scorers can be compared on the real gold files.

  classification / regression: scikit-learn (accuracy_score, f1_score(average="macro"), matthews_corrcoef) and
    scipy (pearsonr, spearmanr) themselves.
  NER: seqeval's default (conlleval) chunking, written here from seqeval's rules for suffix tags (PER-B / PER-I),
    micro-averaged over entities (seqeval is not a Debian package).
  KorQuAD: the rules of KorQuAD's official evaluate-v1.0.py (character-level F1), written here from the script,
    reading the official dataset JSON and a {question id: answer} predictions JSON as that script does.

Input: one JSON file {"kind": ..., ...}; output: one JSON object of metrics (×100, like `electra score`), or
{"unavailable": "..."} when scikit-learn / scipy cannot be imported.

  kind "classification": {"gold": [label, ...], "pred": [label, ...], "metrics": ["accuracy", "macro_f1", "mcc"]}
  kind "regression":     {"gold": [float, ...], "pred": [float, ...]}
  kind "entity":         {"gold": [[tag, ...], ...], "pred": [[tag, ...], ...]}
  kind "korquad":        {"dataset": path, "predictions": path}
"""
import collections
import json
import re
import string
import sys


def classification(spec):
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
    gold, pred = spec["gold"], spec["pred"]
    out = {}
    for name in spec["metrics"]:
        if name == "accuracy":
            out[name] = 100.0 * accuracy_score(gold, pred)
        elif name == "macro_f1":
            out[name] = 100.0 * f1_score(gold, pred, average="macro", zero_division=0)
        elif name == "mcc":
            out[name] = 100.0 * matthews_corrcoef(gold, pred)
        else:
            raise SystemExit(f"score_reference.py: unknown metric {name}")
    return out


def regression(spec):
    from scipy.stats import pearsonr, spearmanr
    gold, pred = spec["gold"], spec["pred"]
    return {"pearson": 100.0 * pearsonr(gold, pred)[0], "spearman": 100.0 * spearmanr(gold, pred)[0]}


def split_tag(tag):
    """seqeval's suffix mode: 'PER-B' -> ('B', 'PER'); 'O' -> ('O', '_')."""
    return tag[-1], tag[:-1].rsplit("-", 1)[0] or "_"


def end_of_chunk(prev_tag, tag, prev_type, type_):
    return prev_tag in ("E", "S") or \
        (prev_tag in ("B", "I") and tag in ("B", "S", "O")) or \
        (prev_tag not in ("O", ".") and prev_type != type_)


def start_of_chunk(prev_tag, tag, prev_type, type_):
    return tag in ("B", "S") or \
        (prev_tag in ("E", "S", "O") and tag in ("E", "I")) or \
        (tag not in ("O", ".") and prev_type != type_)


def entities(sequences):
    """seqeval.metrics.sequence_labeling.get_entities (default mode, suffix=True): (type, start, end) chunks with
    conlleval's chunk rules, over the sequences concatenated with an 'O' after each."""
    tags = []
    for seq in sequences:
        tags += list(seq) + ["O"]
    chunks = set()
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate(tags + ["O"]):
        tag, type_ = split_tag(chunk)
        if end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.add((prev_type, begin, i - 1))
        if start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def entity(spec):
    gold, pred = entities(spec["gold"]), entities(spec["pred"])
    correct = len(gold & pred)
    p = correct / len(pred) if pred else 0.0
    r = correct / len(gold) if gold else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {"precision": 100.0 * p, "recall": 100.0 * r, "f1": 100.0 * f}


def korquad_normalize(s):
    s = re.sub("'", " ", s)
    s = re.sub('"', " ", s)
    s = re.sub("《", " ", s)
    s = re.sub("》", " ", s)
    s = re.sub("<", " ", s)
    s = re.sub(">", " ", s)
    s = re.sub("〈", " ", s)
    s = re.sub("〉", " ", s)
    s = re.sub(r"\(", " ", s)
    s = re.sub(r"\)", " ", s)
    s = re.sub("‘", " ", s)
    s = re.sub("’", " ", s)
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    return " ".join(s.split())


def korquad_f1(prediction, truth):
    pred_chars = [c for token in korquad_normalize(prediction).split() for c in token]
    gold_chars = [c for token in korquad_normalize(truth).split() for c in token]
    common = collections.Counter(pred_chars) & collections.Counter(gold_chars)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_chars)
    recall = same / len(gold_chars)
    return 2 * precision * recall / (precision + recall)


def korquad(spec):
    with open(spec["dataset"], encoding="utf-8") as f:
        dataset = json.load(f)["data"]
    with open(spec["predictions"], encoding="utf-8") as f:
        predictions = json.load(f)
    em = f1 = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                truths = [a["text"] for a in qa["answers"]]
                prediction = predictions[qa["id"]]
                em += max(float(korquad_normalize(prediction) == korquad_normalize(t)) for t in truths)
                f1 += max(korquad_f1(prediction, t) for t in truths)
    return {"exact_match": 100.0 * em / total, "f1": 100.0 * f1 / total}


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: score_reference.py SPEC.json")
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    kinds = {"classification": classification, "regression": regression, "entity": entity, "korquad": korquad}
    if spec["kind"] not in kinds:
        raise SystemExit(f"score_reference.py: unknown kind {spec['kind']}")
    try:
        print(json.dumps(kinds[spec["kind"]](spec)))
    except ImportError as e:
        print(json.dumps({"unavailable": str(e)}))


if __name__ == "__main__":
    main()
