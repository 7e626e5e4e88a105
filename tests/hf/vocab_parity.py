#!/usr/bin/env python3
"""`electra vocab` against Hugging Face tokenizers' BertWordPieceTokenizer.train (the Python package), live, on real
corpora, with tokenizers' defaults (min_frequency 2, limit_alphabet 1000) and the other options electra has.

usage: .venv/bin/python tests/hf/vocab_parity.py --electra build/electra --data ../shared/real-data --work DIR
       [--only SUBSTRING]

tokenizers takes two choices from Rust hash-map iteration order, so two runs of tokenizers itself differ: the order
of the "##c" tokens (which then breaks ties between pairs of equal count differently) and, where characters tie at
limit_alphabet, which of them are dropped. electra makes both choices in a fixed order of its own, and
`electra vocab --continuation-order-from VOCAB` takes them from a vocabulary tokenizers wrote. Each case checks:
  identical: electra given tokenizers' run (--continuation-order-from its vocab.txt) writes the same vocab.txt,
             byte for byte (token order included). A difference fails the case.
  own order: electra alone: the same special tokens and alphabet; overlap |A∩B|/|B| with tokenizers' vocabulary
             (reported, not required: tokenizers against a second run of itself is shown beside it).
Exit status 1 when any case is not identical.
"""
import argparse
import os
import subprocess
import sys
import time


def read_tsv_column(path, index, header=True):
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = [line.split("\t") for line in lines[1 if header else 0:]]
    return [r[index] for r in rows if len(r) > index]


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def corpora(data, work):
    j = lambda *p: os.path.join(data, *p)
    nsmc = read_tsv_column(j("nsmc", "ratings_train.txt"), 1)
    english = (read_tsv_column(j("glue", "SST-2", "train.tsv"), 0)
               + read_tsv_column(j("glue", "CoLA", "train.tsv"), 3, header=False)
               + read_tsv_column(j("glue", "MRPC", "train.tsv"), 3) + read_tsv_column(j("glue", "MRPC", "train.tsv"), 4)
               + read_tsv_column(j("glue", "STS-B", "train.tsv"), 7)
               + read_tsv_column(j("glue", "STS-B", "train.tsv"), 8))
    korean = (read_tsv_column(j("korsts", "sts-train.tsv"), 5) + read_tsv_column(j("korsts", "sts-train.tsv"), 6)
              + read_tsv_column(j("kornli", "xnli.test.ko.tsv"), 0) + read_tsv_column(j("kornli", "xnli.test.ko.tsv"), 1)
              + read_tsv_column(j("naver-ner", "test.tsv"), 0, header=False)
              + read_tsv_column(j("hate-speech", "koelectra", "train.tsv"), 1))
    return {
        "nsmc-150k": write_lines(os.path.join(work, "nsmc.txt"), nsmc),
        "nsmc-20k": write_lines(os.path.join(work, "nsmc20k.txt"), nsmc[:20000]),
        "glue-en": write_lines(os.path.join(work, "glue_en.txt"), english),
        "ko-mixed": write_lines(os.path.join(work, "ko_mixed.txt"), korean),
    }


# name, corpus, size, electra flags (the reference gets the same ones)
CASES = [
    ("nsmc-150k cased 30000 defaults", "nsmc-150k", 30000, ["--no-lowercase"]),
    ("nsmc-20k lower 8000 defaults", "nsmc-20k", 8000, []),
    ("nsmc-20k cased+strip 8000 defaults", "nsmc-20k", 8000, ["--no-lowercase", "--strip-accents"]),
    ("nsmc-20k lower-keep-accents 8000 defaults", "nsmc-20k", 8000, ["--no-strip-accents"]),
    ("glue-en lower 8000 defaults", "glue-en", 8000, []),
    ("glue-en cased 16000 defaults", "glue-en", 16000, ["--no-lowercase"]),
    ("glue-en cased+strip 60000 defaults (min_frequency stops it)", "glue-en", 60000,
     ["--no-lowercase", "--strip-accents"]),
    ("ko-mixed cased 16000 defaults", "ko-mixed", 16000, ["--no-lowercase"]),
    ("ko-mixed cased 12000 min5 alphabet500", "ko-mixed", 12000,
     ["--no-lowercase", "--min-frequency", "5", "--limit-alphabet", "500"]),
    ("ko-mixed lower 6000 min0 no-limit", "ko-mixed", 6000, ["--min-frequency", "0", "--limit-alphabet", "0"]),
    ("nsmc-20k cased 6000 min0 no-limit", "nsmc-20k", 6000,
     ["--no-lowercase", "--min-frequency", "0", "--limit-alphabet", "0"]),
]


def reference_args(flags):
    """tools/checks/vocab_reference.py's flags for electra's."""
    return list(flags)


def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--electra", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", default=None)
    ap.add_argument("--rerun", action="store_true", help="also train tokenizers a second time per case (overlap)")
    args = ap.parse_args()
    started = time.time()
    import tokenizers
    here = os.path.dirname(os.path.abspath(__file__))
    reference = os.path.join(here, "..", "..", "tools", "checks", "vocab_reference.py")
    electra = os.path.abspath(args.electra)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    files = corpora(args.data, work)
    print(f"tokenizers {tokenizers.__version__}; corpora: " + ", ".join(
        f"{k} {sum(1 for _ in open(v, encoding='utf-8'))} lines" for k, v in files.items()))
    failed = ran = 0
    for name, corpus, size, flags in CASES:
        if args.only and args.only not in name:
            continue
        ran += 1
        d = os.path.join(work, name.split(" (")[0].replace(" ", "_"))
        os.makedirs(d, exist_ok=True)

        def hf(out):
            t = time.time()
            subprocess.run([sys.executable, reference, "--size", str(size), *reference_args(flags), "--output", out,
                            files[corpus]], check=True, capture_output=True, text=True)
            return time.time() - t

        def ours(out, *extra):
            t = time.time()
            p = subprocess.run([electra, "vocab", "--corpus", files[corpus], "--size", str(size), *flags, *extra,
                                "--output", out, "--force"], capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"electra vocab failed: {p.stderr.strip()}")
            return time.time() - t

        hf_s = hf(os.path.join(d, "hf.txt"))
        ours_s = ours(os.path.join(d, "ours"))
        ours(os.path.join(d, "given"), "--continuation-order-from", os.path.join(d, "hf.txt"))
        ref = read_vocab(os.path.join(d, "hf.txt"))
        own = read_vocab(os.path.join(d, "ours", "vocab.txt"))
        given = read_vocab(os.path.join(d, "given", "vocab.txt"))
        identical = given == ref
        overlap = len(set(own) & set(ref)) / len(ref)
        rerun = ""
        if args.rerun:
            hf(os.path.join(d, "hf2.txt"))
            ref2 = read_vocab(os.path.join(d, "hf2.txt"))
            rerun = f", tokenizers vs a 2nd tokenizers run {len(set(ref2) & set(ref)) / len(ref):.4f}"
        detail = ""
        if not identical:
            failed += 1
            at = next((i for i, (a, b) in enumerate(zip(given, ref)) if a != b), min(len(given), len(ref)))
            detail = (f"\n     first difference at line {at + 1}: electra {given[at:at + 3]}, tokenizers "
                      f"{ref[at:at + 3]} (sizes {len(given)} / {len(ref)})")
        print(f"{'ok  ' if identical else 'FAIL'} {name}: {len(ref)} tokens, identical given tokenizers' run: "
              f"{'yes' if identical else 'NO'}; own order: overlap {overlap:.4f}, same file "
              f"{'yes' if own == ref else 'no'}{rerun}; tokenizers {hf_s:.1f} s, electra {ours_s:.1f} s{detail}",
              flush=True)
    print(f"summary: {ran} cases, {ran - failed} identical, {failed} different; {time.time() - started:.0f} s")
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
