#!/usr/bin/env python3
"""Reference WordPiece vocabulary from Hugging Face tokenizers itself (its Python package, .venv), for comparing
with `electra vocab`: tokenizers' BertWordPieceTokenizer(...).train(files, ...) with the same options, defaults
included (min_frequency 2, limit_alphabet 1000, special tokens [PAD] [UNK] [CLS] [SEP] [MASK], prefix "##").

  .venv/bin/python tools/checks/vocab_reference.py --size 8000 [--no-lowercase] [--strip-accents|--no-strip-accents]
      [--min-frequency 2] [--limit-alphabet 1000] [--no-chinese-chars] --output vocab.txt CORPUS...

--limit-alphabet 0 means no limit (tokenizers' None), as `electra vocab --limit-alphabet 0`. tokenizers orders the
"##c" tokens, and picks among characters tied at the alphabet limit, by hash-map iteration order, which changes from
run to run; `electra vocab --continuation-order-from vocab.txt` takes both from the file this writes.
"""
import argparse
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=30000, help="vocab_size (special tokens included)")
    ap.add_argument("--lowercase", dest="lowercase", action="store_true", default=True)
    ap.add_argument("--no-lowercase", dest="lowercase", action="store_false")
    ap.add_argument("--strip-accents", dest="strip_accents", action="store_true", default=None)
    ap.add_argument("--no-strip-accents", dest="strip_accents", action="store_false")
    ap.add_argument("--no-chinese-chars", dest="chinese", action="store_false", default=True)
    ap.add_argument("--min-frequency", type=int, default=2)
    ap.add_argument("--limit-alphabet", type=int, default=1000, help="0: no limit")
    ap.add_argument("--output", required=True, help="vocab.txt to write")
    ap.add_argument("corpus", nargs="+")
    args = ap.parse_args()
    import tokenizers
    from tokenizers import BertWordPieceTokenizer
    tokenizer = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=args.chinese,
                                       strip_accents=args.strip_accents, lowercase=args.lowercase)
    started = time.time()
    if args.limit_alphabet > 0:
        tokenizer.train(args.corpus, vocab_size=args.size, min_frequency=args.min_frequency,
                        limit_alphabet=args.limit_alphabet, show_progress=False)
    else:  # BertWordPieceTokenizer.train refuses None; its trainer, left without limit_alphabet, has none
        from tokenizers import trainers
        trainer = trainers.WordPieceTrainer(vocab_size=args.size, min_frequency=args.min_frequency,
                                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                            show_progress=False, continuing_subword_prefix="##")
        tokenizer._tokenizer.train(args.corpus, trainer=trainer)
    seconds = time.time() - started
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    if [i for _, i in vocab] != list(range(len(vocab))):
        sys.exit("tokenizers' vocabulary has holes in its ids")
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token, _ in vocab))
    print(f"tokenizers {tokenizers.__version__}: {len(vocab)} tokens trained in {seconds:.2f} s; wrote {args.output}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
