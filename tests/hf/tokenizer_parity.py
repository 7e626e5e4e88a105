#!/usr/bin/env python3
"""`electra tokenize` against Hugging Face's BertTokenizerFast (transformers) and tokenizers, live, on real text.

usage: .venv/bin/python tests/hf/tokenizer_parity.py --electra build/electra --data ../shared/real-data --work DIR
       [--texts 3000] [--pairs 1200] [--seed 29] [--only SUBSTRING]

Texts: a seeded sample of real lines (NSMC, KorSTS, KorNLI, KorQuAD questions and contexts, Naver NER, hate speech,
Question Pair, PAWS, GLUE CoLA/SST-2/MRPC/STS-B), every empty NSMC row, and copies of some of them with special
tokens ([CLS], [SEP], [MASK], [PAD], [UNK], and "[mask]", which is not one) put inside; pairs: KorSTS, KorNLI, PAWS,
Question Pair, (question, context) of KorQuAD, MRPC, STS-B. Vocabularies: KoELECTRA's real Korean vocab.txt
(real-data/vocab/koelectra), the cased Korean/English one of ../shared/fixtures/hf, and an uncased English one that
tokenizers' BertWordPieceTokenizer.train (its defaults) makes here from GLUE's English train sentences.

Every case writes a tokenizer folder (vocab.txt + tokenizer_config.json), runs `electra tokenize --model` on it
and `BertTokenizerFast.from_pretrained` of the same folder (a batch that mixes single texts and pairs: the
tokenizers.Tokenizer inside it, which takes such a batch), and compares tokens, input_ids, token_type_ids,
attention_mask and offsets line by line; an input Hugging Face refuses must be refused by electra too. Options:
every combination of lowercase, strip_accents (None/False/True) and tokenize_chinese_chars on the KoELECTRA
vocabulary (those with tokenize_chinese_chars on for the English one, four for the fixture's);
truncation (longest_first, only_first, only_second; max_length down to below the special tokens' count), padding
(max_length, longest, none) and pairs on the KoELECTRA and English vocabularies with their own options. The singles
of the KoELECTRA vocabulary are also encoded by tokenizers' BertWordPieceTokenizer (the references must agree).
One line per case, then a summary; exit status 1 on any mismatch.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

SPECIALS = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[mask]"]


def read_tsv(path, header=True):
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if header:
        lines = lines[1:]
    return [line.split("\t") for line in lines]


def column(rows, i):
    return [r[i] for r in rows if len(r) > i]


def load_corpus(data):
    """(name -> list of texts) and (name -> list of (text, pair)) from the real files."""
    j = lambda *p: os.path.join(data, *p)
    singles, pairs = {}, {}
    nsmc = read_tsv(j("nsmc", "ratings_train.txt")) + read_tsv(j("nsmc", "ratings_test.txt"))
    singles["nsmc"] = column(nsmc, 1)
    sts = read_tsv(j("korsts", "sts-train.tsv")) + read_tsv(j("korsts", "sts-dev.tsv"))
    singles["korsts"] = column(sts, 5) + column(sts, 6)
    pairs["korsts"] = [(r[5], r[6]) for r in sts if len(r) > 6]
    nli = read_tsv(j("kornli", "xnli.dev.ko.tsv"))
    singles["kornli"] = column(nli, 0) + column(nli, 1)
    pairs["kornli"] = [(r[0], r[1]) for r in nli if len(r) > 1]
    paws = read_tsv(j("paws", "dev_2k.tsv"))
    singles["paws"] = column(paws, 1) + column(paws, 2)
    pairs["paws"] = [(r[1], r[2]) for r in paws if len(r) > 2]
    qp = read_tsv(j("question-pair", "train.tsv"))
    singles["question-pair"] = column(qp, 0) + column(qp, 1)
    pairs["question-pair"] = [(r[0], r[1]) for r in qp if len(r) > 1]
    singles["naver-ner"] = column(read_tsv(j("naver-ner", "test.tsv"), header=False), 0)
    hate = read_tsv(j("hate-speech", "koelectra", "train.tsv"))
    singles["hate-speech"] = column(hate, 0) + column(hate, 1)
    with open(j("korquad", "KorQuAD_v1.0_dev.json"), encoding="utf-8") as f:
        squad = json.load(f)
    questions, contexts, qa = [], [], []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            contexts.append(paragraph["context"])
            for q in paragraph["qas"]:
                questions.append(q["question"])
                qa.append((q["question"], paragraph["context"]))
    singles["korquad-question"] = questions
    singles["korquad-context"] = contexts
    pairs["korquad"] = qa
    singles["cola"] = column(read_tsv(j("glue", "CoLA", "train.tsv"), header=False), 3)
    singles["sst2"] = column(read_tsv(j("glue", "SST-2", "train.tsv")), 0)
    mrpc = read_tsv(j("glue", "MRPC", "train.tsv"))
    singles["mrpc"] = column(mrpc, 3) + column(mrpc, 4)
    pairs["mrpc"] = [(r[3], r[4]) for r in mrpc if len(r) > 4]
    stsb = read_tsv(j("glue", "STS-B", "train.tsv"))
    singles["stsb"] = column(stsb, 7) + column(stsb, 8)
    pairs["stsb"] = [(r[7], r[8]) for r in stsb if len(r) > 8]
    return singles, pairs


def with_special(text, rng):
    """The text with a special token (or "[mask]") put at a random character position, sometimes twice."""
    for _ in range(rng.choice([1, 1, 2])):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(SPECIALS) + text[at:]
    return text


def sample(singles, pairs, n_texts, n_pairs, seed):
    rng = random.Random(seed)
    per_source = max(1, n_texts // len(singles))
    texts, sources = [], {}
    for name in sorted(singles):
        pool = singles[name]
        take = rng.sample(pool, min(per_source, len(pool)))
        texts += take
        sources[name] = len(take)
    empty = [t for t in singles["nsmc"] if t == ""]
    texts += empty
    sources["nsmc-empty"] = len(empty)
    special = [with_special(t, rng) for t in rng.sample(texts, max(1, len(texts) // 20))]
    texts += special
    sources["with-special-tokens"] = len(special)
    per_pair = max(1, n_pairs // len(pairs))
    pair_list = []
    for name in sorted(pairs):
        pool = pairs[name]
        pair_list += rng.sample(pool, min(per_pair, len(pool)))
    pair_list += [(with_special(a, rng), with_special(b, rng)) for a, b in rng.sample(pair_list, len(pair_list) // 20)]
    return texts, pair_list, sources


def write_model_dir(path, vocab_txt, lowercase, strip_accents, chinese):
    os.makedirs(path, exist_ok=True)
    with open(vocab_txt, "rb") as src, open(os.path.join(path, "vocab.txt"), "wb") as dst:
        dst.write(src.read())
    config = {"do_lower_case": lowercase, "strip_accents": strip_accents, "tokenize_chinese_chars": chinese,
              "model_max_length": 512, "tokenizer_class": "BertTokenizer"}
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump(config, f)


def start_electra(electra, model_dir, work, inputs, max_length, truncation, padding):
    """Starts `electra tokenize` on the inputs; finish_electra collects its output (HF runs meanwhile)."""
    src = os.path.join(work, "input.jsonl")
    out = os.path.join(work, "output.jsonl")
    with open(src, "w", encoding="utf-8") as f:
        for text, pair in inputs:
            f.write(json.dumps({"text": text, "text_pair": pair}, ensure_ascii=False) + "\n")
    cmd = [electra, "--threads", "1", "tokenize", "--model", model_dir, "--input", src, "--output", out,
           "--truncation", truncation, "--padding", padding]
    if max_length:
        cmd += ["--max-length", str(max_length)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out, len(inputs)


def finish_electra(started):
    proc, out, n = started
    _, stderr = proc.communicate()
    proc.stderr_text = stderr
    with open(out, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    if len(lines) != n:
        raise RuntimeError(f"electra wrote {len(lines)} lines for {n} inputs (exit {proc.returncode}): "
                           f"{stderr.strip()[-500:]}")
    errors = sum("error" in line for line in lines)
    if (errors > 0) != (proc.returncode != 0):
        raise RuntimeError(f"electra exit status {proc.returncode} with {errors} error lines: {stderr[-300:]}")
    return lines


def encoding_record(enc):
    return {"tokens": list(enc.tokens), "input_ids": list(enc.ids), "token_type_ids": list(enc.type_ids),
            "attention_mask": list(enc.attention_mask), "offsets": [list(o) for o in enc.offsets]}


def hf_transformers(tok, inputs, max_length, truncation, padding):
    """BertTokenizerFast.__call__ on the whole batch; where it refuses the batch, input by input."""
    kwargs = dict(add_special_tokens=True, return_offsets_mapping=True, return_token_type_ids=True,
                  return_attention_mask=True)
    kwargs["truncation"] = False if truncation == "none" else truncation
    kwargs["padding"] = {"none": False, "max_length": "max_length", "longest": "longest"}[padding]
    if max_length:
        kwargs["max_length"] = max_length
    texts = [t for t, _ in inputs]
    has_pairs = any(p is not None for _, p in inputs)
    pairs = [p for _, p in inputs] if has_pairs else None

    def records(batch):
        out = []
        for i, enc in enumerate(batch.encodings):
            r = encoding_record(enc)
            # What __call__ returns must be what the Encoding holds.
            assert batch["input_ids"][i] == r["input_ids"] and batch["token_type_ids"][i] == r["token_type_ids"]
            assert batch["attention_mask"][i] == r["attention_mask"]
            assert [list(o) for o in batch["offset_mapping"][i]] == r["offsets"]
            out.append(r)
        return out

    try:
        return records(tok(texts, pairs, **kwargs))
    except Exception:
        if padding == "longest":
            raise
    out = []
    for text, pair in inputs:
        try:
            out.extend(records(tok([text], [pair] if pair is not None else None, **kwargs)))
        except Exception as e:  # tokenizers' truncation errors
            out.append({"error": str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__})
    return out


def hf_backend(tok, inputs, max_length, truncation, padding):
    """tokenizers itself (the Tokenizer inside BertTokenizerFast): encode_batch of a batch that mixes single texts
    and pairs, which BertTokenizerFast.__call__ does not take."""
    from tokenizers import Tokenizer
    backend = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    if truncation != "none":
        backend.enable_truncation(max_length, strategy=truncation)
    if padding == "longest":
        backend.enable_padding(pad_id=tok.pad_token_id, pad_token=tok.pad_token)
    elif padding == "max_length":
        backend.enable_padding(pad_id=tok.pad_token_id, pad_token=tok.pad_token, length=max_length)
    batch = backend.encode_batch([t if p is None else (t, p) for t, p in inputs])
    return [encoding_record(e) for e in batch]


def hf_tokenizers(vocab_txt, lowercase, strip_accents, chinese, texts):
    from tokenizers import BertWordPieceTokenizer
    tok = BertWordPieceTokenizer(vocab_txt, clean_text=True, handle_chinese_chars=chinese,
                                 strip_accents=strip_accents, lowercase=lowercase)
    return [encoding_record(e) for e in tok.encode_batch(texts)]


FIELDS = ["tokens", "input_ids", "token_type_ids", "attention_mask", "offsets"]


def compare(ours, ref, inputs):
    """(mismatches, first difference as text)."""
    bad, first = 0, None
    for i, (o, r) in enumerate(zip(ours, ref)):
        if "error" in r or "error" in o:
            if ("error" in r) != ("error" in o):
                bad += 1
                first = first or (f"input {i} {json.dumps(inputs[i], ensure_ascii=False)[:300]}: electra "
                                  f"{o.get('error', 'encoded it')!r}, HF {r.get('error', 'encoded it')!r}")
            continue
        diff = [k for k in FIELDS if o.get(k) != r.get(k)]
        if diff:
            bad += 1
            if first is None:
                k = diff[0]
                at = next((j for j, (a, b) in enumerate(zip(o[k], r[k])) if a != b), min(len(o[k]), len(r[k])))
                lo = max(0, at - 3)
                first = (f"input {i} {json.dumps(inputs[i], ensure_ascii=False)[:300]}: fields {diff}; {k} from "
                         f"position {at}: electra {o[k][lo:at + 4]} (length {len(o[k])}), HF {r[k][lo:at + 4]} "
                         f"(length {len(r[k])})")
    return bad, first


def train_english_vocab(data, work):
    """An uncased English WordPiece vocabulary made by tokenizers itself (BertWordPieceTokenizer.train, defaults)."""
    from tokenizers import BertWordPieceTokenizer
    corpus = os.path.join(work, "glue-english.txt")
    j = lambda *p: os.path.join(data, "glue", *p)
    with open(corpus, "w", encoding="utf-8") as f:
        for text in (column(read_tsv(j("SST-2", "train.tsv")), 0) + column(read_tsv(j("CoLA", "train.tsv"), False), 3)
                     + [s for r in read_tsv(j("MRPC", "train.tsv")) for s in r[3:5]]
                     + [s for r in read_tsv(j("STS-B", "train.tsv")) for s in r[7:9]]):
            f.write(text + "\n")
    tok = BertWordPieceTokenizer(lowercase=True)
    tok.train([corpus], vocab_size=16000, show_progress=False)
    out = os.path.join(work, "english-uncased")
    os.makedirs(out, exist_ok=True)
    tok.save_model(out)
    return os.path.join(out, "vocab.txt")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--electra", required=True)
    ap.add_argument("--data", required=True, help="../shared/real-data")
    ap.add_argument("--work", required=True, help="scratch folder (created)")
    ap.add_argument("--fixtures", default=None, help="../shared/fixtures/hf (default: beside --data)")
    ap.add_argument("--texts", type=int, default=3000, help="single texts sampled (before the specials' copies)")
    ap.add_argument("--pairs", type=int, default=1200, help="text pairs sampled")
    ap.add_argument("--seed", type=int, default=29)
    ap.add_argument("--only", default=None, help="run the cases whose name contains this")
    args = ap.parse_args()
    started = time.time()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    import tokenizers
    import transformers
    from transformers import BertTokenizerFast
    transformers.logging.set_verbosity_error()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    electra = os.path.join(work, "electra")  # a copy: a rebuild of the binary during the run changes nothing
    shutil.copy2(args.electra, electra)
    fixtures = args.fixtures or os.path.join(os.path.dirname(os.path.abspath(args.data)), "fixtures", "hf")

    singles, pairs = load_corpus(args.data)
    texts, pair_list, sources = sample(singles, pairs, args.texts, args.pairs, args.seed)
    print(f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}; {len(texts)} texts "
          f"({', '.join(f'{k} {v}' for k, v in sources.items())}), {len(pair_list)} pairs")

    vocabs = {
        "koelectra": os.path.join(args.data, "vocab", "koelectra", "vocab.txt"),
        "fixture": os.path.join(fixtures, "vocab", "vocab.txt"),
        "english-uncased": train_english_vocab(args.data, work),
    }
    if not os.path.isfile(vocabs["fixture"]):
        print(f"note: no {vocabs['fixture']} (give --fixtures): the fixture vocabulary's cases are left out")
        del vocabs["fixture"]
    # The option set each vocabulary was made for; the pair/truncation cases run with it.
    native = {"koelectra": (False, None, True), "fixture": (False, False, True), "english-uncased": (True, None, True)}
    option_sets = [(lower, strip, cjk) for lower in (False, True) for strip in (None, False, True)
                   for cjk in (True, False)]

    single_inputs = [(t, None) for t in texts]
    cases = []  # (name, vocab, options, inputs, max_length, truncation, padding, check_tokenizers)
    # Every option set on the real Korean vocabulary; a spread of them on the other two (run time).
    some_option_sets = {"koelectra": option_sets,
                        "english-uncased": [o for o in option_sets if o[2]],
                        "fixture": [(False, None, True), (True, None, True), (False, True, False), (True, False, False)]}
    for vname in vocabs:
        for opts in some_option_sets[vname]:
            cases.append((vname, opts, "single", single_inputs, None, "none", "none", vname == "koelectra"))
        if vname == "fixture":  # every option set on a third vocabulary; truncation and pairs on the other two
            continue
        opts = native[vname]
        for max_length, padding in ((16, "max_length"), (64, "longest"), (128, "none"), (5, "none"), (2, "none"), (1, "none")):
            cases.append((vname, opts, "single", single_inputs, max_length, "longest_first", padding, False))
        pair_inputs = list(pair_list)
        cases.append((vname, opts, "pair", pair_inputs, None, "none", "none", False))
        for strategy, lengths in (("longest_first", ((2, "none"), (3, "none"), (8, "max_length"), (24, "none"),
                                                     (64, "max_length"), (128, "none"), (512, "none"))),
                                  ("only_first", ((1, "none"), (3, "none"), (24, "max_length"), (64, "none"), (512, "none"))),
                                  ("only_second", ((2, "none"), (3, "none"), (24, "none"), (64, "max_length"), (128, "none")))):
            for max_length, padding in lengths:
                cases.append((vname, opts, "pair", pair_inputs, max_length, strategy, padding, False))
        cases.append((vname, opts, "pair", pair_inputs, 48, "longest_first", "longest", False))
        # A batch that mixes single texts and pairs, padded to the longest.
        mixed = [(t, None) for t in texts[:300]] + pair_list[:300]
        cases.append((vname, opts, "mixed", mixed, 96, "longest_first", "longest", False))

    total_inputs = total_bad = total_cases = failed_cases = refused = 0
    for vname, (lower, strip, cjk), kind, inputs, max_length, truncation, padding, check_tok in cases:
        name = (f"{vname} lowercase={lower} strip_accents={strip} chinese={cjk} {kind} max_length={max_length} "
                f"truncation={truncation} padding={padding}")
        if args.only and args.only not in name:
            continue
        model_dir = os.path.join(work, f"{vname}-{int(lower)}-{strip}-{int(cjk)}")
        write_model_dir(model_dir, vocabs[vname], lower, strip, cjk)
        tok = BertTokenizerFast.from_pretrained(model_dir)
        running = start_electra(electra, model_dir, work, inputs, max_length, truncation, padding)
        if kind == "mixed":
            ref = hf_backend(tok, inputs, max_length, truncation, padding)
        else:
            ref = hf_transformers(tok, inputs, max_length, truncation, padding)
        ours = finish_electra(running)
        bad, first = compare(ours, ref, inputs)
        extra = ""
        if check_tok:  # the references against each other
            alt = hf_tokenizers(os.path.join(model_dir, "vocab.txt"), lower, strip, cjk, [t for t, _ in inputs])
            ref_bad, ref_first = compare(alt, ref, inputs)
            if ref_bad:
                bad += ref_bad
                first = first or "tokenizers vs transformers: " + ref_first
            extra = ", tokenizers agrees" if not ref_bad else f", tokenizers differs from transformers on {ref_bad}"
        errors = sum("error" in r for r in ref)
        refused += errors
        total_inputs += len(inputs)
        total_bad += bad
        total_cases += 1
        failed_cases += bad > 0
        status = "ok  " if bad == 0 else "FAIL"
        print(f"{status} {name}: {len(inputs)} inputs, {bad} mismatches"
              f"{f', {errors} refused by both' if errors else ''}{extra}", flush=True)
        if first:
            print(f"     first: {first}", flush=True)
    print(f"summary: {total_cases} cases, {total_inputs} encodings compared ({len(texts)} texts, {len(pair_list)} "
          f"pairs), {refused} refused by HF and electra alike, {total_bad} mismatches in {failed_cases} cases; "
          f"{time.time() - started:.0f} s")
    return 1 if total_bad or total_cases == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
