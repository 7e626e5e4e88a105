#!/usr/bin/env python3
"""`electra predict` on the two exports of an `electra pretrain` run against a reference implementation, on fixed
inputs, masks and replacements: the discriminator's logits per token and its loss, the generator's top-5 logits per
position (and the reference's logits at electra's ids) and its MLM loss, each within 1e-4 relative (logits: of the
largest |logit|).

    python3 tools/checks/pretrain_parity.py RUN ELECTRA OUT [--reference transformers]

RUN: the run folder (RUN/discriminator, RUN/generator). OUT: where the input lines and pretrain_parity.json (the
cases, both sides' values: a fixture) are written. The reference is Hugging Face's ElectraForPreTraining /
ElectraForMaskedLM and AutoTokenizer (requirements.txt's pins; `make test-hf` runs this through
tests/hf/model_parity.py, tools/gpu/device_check.sh on CUDA).
Exit status 1 when a bound is exceeded, loading is not clean, or the generator's lm head is not tied.
"""
import argparse
import json
import os
import subprocess
import sys

import torch

TEXTS = ["the movie was good", "a sea holds the ball and her sister", "the the the in a sea", "ball"]


def make_cases(tokenizer):
    """Per text: 15 % of the non-special tokens chosen (at least one); [MASK] there for the generator, a random
    non-special id there for the discriminator; labels as transformers takes them."""
    specials = set(tokenizer.all_special_ids)
    g = torch.Generator().manual_seed(20231)
    cases = []
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        candidates = [i for i, t in enumerate(ids) if t not in specials]
        k = max(1, round(0.15 * len(candidates)))
        chosen = [candidates[i] for i in torch.randperm(len(candidates), generator=g)[:k].tolist()]
        masked, replaced = list(ids), list(ids)
        for i in chosen:
            masked[i] = tokenizer.mask_token_id
            replaced[i] = int(torch.randint(len(specials), tokenizer.vocab_size, (1,), generator=g))
        cases.append({"text": text, "input_ids": ids, "chosen": chosen,
                      "generator": {"input_ids": masked,
                                    "labels": [ids[i] if i in chosen else -100 for i in range(len(ids))]},
                      "discriminator": {"input_ids": replaced,
                                        "labels": [int(replaced[i] != ids[i]) for i in range(len(ids))]}})
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("electra")
    ap.add_argument("out")
    ap.add_argument("--reference", choices=("transformers",), default="transformers")
    args = ap.parse_args()
    from transformers import AutoTokenizer, ElectraForMaskedLM, ElectraForPreTraining
    os.makedirs(args.out, exist_ok=True)
    cases = make_cases(AutoTokenizer.from_pretrained(os.path.join(args.run, "discriminator")))
    bad = 0
    for cls, sub in ((ElectraForPreTraining, "discriminator"), (ElectraForMaskedLM, "generator")):
        path = os.path.join(args.run, sub)
        model, info = cls.from_pretrained(path, output_loading_info=True)
        model.eval()
        problems = {k: v for k, v in info.items() if v}
        tied = (sub != "generator" or model.generator_lm_head.weight.data_ptr()
                == model.electra.embeddings.word_embeddings.weight.data_ptr())
        lines = os.path.join(args.out, f"{sub}_in.jsonl")
        with open(lines, "w") as f:
            for c in cases:
                f.write(json.dumps(c[sub]) + "\n")
        ours = subprocess.run([args.electra, "predict", "--model", path, "--input", lines, "--device", "cpu"]
                              + (["--top-k", "5"] if sub == "generator" else []), capture_output=True, text=True)
        if ours.returncode != 0:
            print(f"{sub}: electra predict failed: {ours.stderr.strip()}")
            bad += 1
            continue
        worst_logits = worst_loss = 0.0
        for c, line in zip(cases, ours.stdout.splitlines()):
            got = json.loads(line)
            with torch.no_grad():
                ref = model(input_ids=torch.tensor([c[sub]["input_ids"]]), labels=torch.tensor([c[sub]["labels"]]))
            logits = ref.logits[0]
            c[sub]["reference_loss"], c[sub]["electra_loss"] = ref.loss.item(), got["loss"]
            if sub == "discriminator":
                c[sub]["reference_logits"] = logits.tolist()
                diff = (torch.tensor(got["logits"]) - logits).abs().max()
            else:
                # The same top-5 values, and the reference's logits at electra's ids equal to electra's (the ids may
                # differ only where two logits tie).
                top = logits.topk(5, dim=-1)
                c[sub]["reference_top_ids"], c[sub]["reference_top_logits"] = top.indices.tolist(), top.values.tolist()
                mine = torch.tensor(got["top_logits"])
                diff = max((mine - top.values).abs().max(),
                           (mine - logits.gather(1, torch.tensor(got["top_ids"]))).abs().max())
            worst_logits = max(worst_logits, (diff / logits.abs().max()).item())
            worst_loss = max(worst_loss, abs(got["loss"] - ref.loss.item()) / abs(ref.loss.item()))
        print(f"{sub}: {cls.__name__} ({args.reference}) loading info {problems or 'clean'}; lm head tied {tied}; "
              f"electra predict vs {args.reference} on {len(cases)} lines: logits max |diff| / max |logit| "
              f"{worst_logits:.2e}, loss relative difference {worst_loss:.2e} (bound 1e-4 each)")
        bad += bool(problems) or not tied or worst_logits > 1e-4 or worst_loss > 1e-4
    with open(os.path.join(args.out, "pretrain_parity.json"), "w") as f:
        json.dump({"made_by": "tools/checks/pretrain_parity.py", "reference": args.reference, "run": args.run,
                   "cases": cases}, f, indent=1)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
