#!/usr/bin/env python3
"""`electra tokenize` against `tokenizers` on BPE (RoBERTa) and Unigram (XLM-R) tokenizer.json files, live, on real text.

usage: .venv/bin/python tests/hf/pipeline_parity.py --electra build/electra --data ../shared/real-data --work DIR
       [--lines 10000] [--pairs 3000] [--seed 31] [--only SUBSTRING]

No pretrained RoBERTa/XLM-R tokenizer is at hand: tools/fixtures/pipeline_tokenizers.py's recipes (roberta: byte-level
BPE + RobertaProcessing; xlmr: Nmt + Replace + Metaspace + Unigram + TemplateProcessing; and two variants reaching
the other supported components) are trained here on real lines (vocabulary 8,000). Each is saved as tokenizer.json
and compared on --lines real lines from each of NSMC, SST-2 and KorQuAD (every context, then the contexts'
sentences and the questions up to the count), a twentieth of them again with special tokens put inside, and on
(question, context) pairs of KorQuAD and (sentence, sentence) pairs of NSMC/SST-2: tokens, input_ids,
token_type_ids, attention_mask and offsets of every encoding (tokenizers' Tokenizer.encode_batch; offsets in
characters, as transformers' fast tokenizers return them). Truncation (longest_first, only_first, only_second) and
padding (max_length, longest) run on the pairs. One line per case, then a summary; exit status 1 on any mismatch.
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "fixtures"))
from tokenizer_parity import column, compare, encoding_record, finish_electra, read_tsv, start_electra  # noqa: E402
from pipeline_tokenizers import KINDS, SPECIALS, build  # noqa: E402


def load_lines(data, n, rng):
    """name -> n real lines (or all there are), and the pairs."""
    j = lambda *p: os.path.join(data, *p)
    nsmc = column(read_tsv(j("nsmc", "ratings_train.txt")) + read_tsv(j("nsmc", "ratings_test.txt")), 1)
    sst2 = column(read_tsv(j("glue", "SST-2", "train.tsv")), 0)
    with open(j("korquad", "KorQuAD_v1.0_dev.json"), encoding="utf-8") as f:
        squad = json.load(f)
    contexts, questions, qa = [], [], []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            contexts.append(paragraph["context"])
            for q in paragraph["qas"]:
                questions.append(q["question"])
                qa.append((q["question"], paragraph["context"]))
    sentences = [s for c in contexts for s in re.split(r"(?<=[.!?])\s+", c) if s]
    korquad = contexts + rng.sample(sentences + questions, min(len(sentences) + len(questions), max(0, n - len(contexts))))
    lines = {"nsmc": rng.sample(nsmc, min(n, len(nsmc))), "sst2": rng.sample(sst2, min(n, len(sst2))),
             "korquad": korquad[:max(n, len(contexts))]}
    pairs = {"korquad-qa": qa, "nsmc": list(zip(nsmc[::2], nsmc[1::2])), "sst2": list(zip(sst2[::2], sst2[1::2]))}
    return lines, pairs, nsmc, sst2, contexts


def with_special(text, rng):
    for _ in range(rng.choice([1, 1, 2])):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(SPECIALS + ["<MASK>"]) + text[at:]
    return text


def reference(tok, inputs, max_length, truncation, padding):
    tok.no_truncation()
    tok.no_padding()
    if truncation != "none":
        tok.enable_truncation(max_length, strategy=truncation)
    if padding == "longest":
        tok.enable_padding(pad_id=1, pad_token="<pad>")
    elif padding == "max_length":
        tok.enable_padding(pad_id=1, pad_token="<pad>", length=max_length)
    try:
        return [encoding_record(e) for e in tok.encode_batch([t if p is None else (t, p) for t, p in inputs])]
    except Exception:
        if padding == "longest":
            raise
    out = []
    for text, pair in inputs:  # one by one where tokenizers refuses an input (truncation errors)
        try:
            out.append(encoding_record(tok.encode(text, pair)))
        except Exception as e:
            out.append({"error": str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--electra", required=True)
    ap.add_argument("--data", required=True, help="../shared/real-data")
    ap.add_argument("--work", required=True, help="scratch folder (created)")
    ap.add_argument("--lines", type=int, default=10000, help="real lines from each of NSMC, SST-2, KorQuAD")
    ap.add_argument("--pairs", type=int, default=3000, help="pairs for the pair and truncation cases")
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--only", default=None, help="run the cases whose name contains this")
    args = ap.parse_args()
    started = time.time()
    import tokenizers
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    electra = os.path.join(work, "electra")
    shutil.copy2(args.electra, electra)
    rng = random.Random(args.seed)
    lines, pairs, nsmc, sst2, contexts = load_lines(args.data, args.lines, rng)
    # Training text: other lines than most of those compared, from all three sources.
    training = rng.sample(nsmc, 30000) + rng.sample(sst2, 20000) + contexts
    pair_list = []
    for name in sorted(pairs):
        pair_list += rng.sample(pairs[name], min(args.pairs // len(pairs), len(pairs[name])))
    pair_list += [(with_special(a, rng), with_special(b, rng)) for a, b in rng.sample(pair_list, len(pair_list) // 20)]
    print(f"tokenizers {tokenizers.__version__}; lines: {', '.join(f'{k} {len(v)}' for k, v in lines.items())}; "
          f"{len(pair_list)} pairs; training on {len(training)} lines")

    total = bad_total = cases = failed = 0
    for kind in KINDS:
        tok = build(kind, training, 8000)
        model_dir = os.path.join(work, kind)
        os.makedirs(model_dir, exist_ok=True)
        tok.save(os.path.join(model_dir, "tokenizer.json"))
        with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
            json.dump({"model_max_length": 1000000, "pad_token": "<pad>", "mask_token": "<mask>"}, f)
        runs = []
        for source, texts in lines.items():
            singles = [(t, None) for t in texts]
            singles += [(with_special(t, rng), None) for t in rng.sample(texts, len(texts) // 20)]
            runs.append((f"{source} singles", singles, None, "none", "none"))
        runs.append(("pairs", pair_list, None, "none", "none"))
        for strategy, settings in (("longest_first", ((6, "none"), (32, "max_length"), (128, "none"), (512, "none"))),
                                   ("only_first", ((24, "none"), (64, "max_length"))),
                                   ("only_second", ((5, "none"), (64, "none"), (256, "max_length")))):
            for max_length, padding in settings:
                runs.append((f"pairs {strategy} {max_length} padding={padding}", pair_list, max_length, strategy, padding))
        runs.append(("mixed longest_first 96 padding=longest",
                     [(t, None) for t in lines["nsmc"][:300]] + pair_list[:300], 96, "longest_first", "longest"))
        for name, inputs, max_length, truncation, padding in runs:
            full = f"{kind} {name}"
            if args.only and args.only not in full:
                continue
            running = start_electra(electra, model_dir, work, inputs, max_length, truncation, padding)
            ref = reference(tok, inputs, max_length, truncation, padding)
            ours = finish_electra(running)
            bad, first = compare(ours, ref, inputs)
            errors = sum("error" in r for r in ref)
            total += len(inputs)
            bad_total += bad
            cases += 1
            failed += bad > 0
            print(f"{'ok  ' if bad == 0 else 'FAIL'} {full}: {len(inputs)} inputs, {bad} mismatches"
                  f"{f', {errors} refused by both' if errors else ''}", flush=True)
            if first:
                print(f"     first: {first}", flush=True)
    print(f"summary: {cases} cases, {total} encodings compared, {bad_total} mismatches in {failed} cases; "
          f"{time.time() - started:.0f} s")
    return 1 if bad_total or cases == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
