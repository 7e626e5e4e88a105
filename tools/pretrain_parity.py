#!/usr/bin/env python3
"""`electra predict` on the two exports of an `electra pretrain` run against a reference implementation, on fixed
inputs, masks and replacements: the discriminator's logits per token and its loss, the generator's top-5 logits per
position (and the reference's logits at electra's ids) and its MLM loss, each within 1e-4 relative (logits: of the
largest |logit|).

    python3 tools/pretrain_parity.py RUN ELECTRA OUT [--reference transformers|twin]

RUN: the run folder (RUN/discriminator, RUN/generator). OUT: where the input lines and pretrain_parity.json (the
cases, both sides' values: a fixture) are written. References:
  transformers  Hugging Face's ElectraForPreTraining / ElectraForMaskedLM and AutoTokenizer (the GPU machine has
                them; tools/device_check.sh step 4 runs this);
  twin          the torch.nn twin of the pair (bench/pretrain_step_eager.py's encoder, tools/pretrain_probe.py's
                safetensors reader; Debian's python3-torch), the heads written out as Hugging Face's; token ids
                then come from `electra tokenize`. An independent implementation, not transformers.
Exit status 1 when a bound is exceeded, loading is not clean, or the generator's lm head is not tied.
"""
import argparse
import json
import os
import subprocess
import sys
import types

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TEXTS = ["the movie was good", "a sea holds the ball and her sister", "the the the in a sea", "ball"]


def twin_classes(electra):
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "..", "bench"))
    from pretrain_probe import embed, load_encoder, load_safetensors

    class Model:
        @classmethod
        def from_pretrained(cls, path, output_loading_info=False):
            m = cls()
            m.sd = load_safetensors(os.path.join(path, "model.safetensors"))
            with open(os.path.join(path, "config.json")) as f:
                m.config = json.load(f)
            m.encoder, m.p = load_encoder(m.sd, m.config)
            m.eps = m.config.get("layer_norm_eps", 1e-12)
            word = m.sd["electra.embeddings.word_embeddings.weight"]
            m.electra = types.SimpleNamespace(
                embeddings=types.SimpleNamespace(word_embeddings=types.SimpleNamespace(weight=word)))
            # electra stores the tied lm head weight; the twin uses the word embeddings, as transformers ties them
            stored = m.sd.get("generator_lm_head.weight")
            tied = stored is None or torch.equal(stored, word)
            m.generator_lm_head = types.SimpleNamespace(weight=word if tied else stored)
            info = {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
            return (m, info) if output_loading_info else m

        def eval(self):
            return self

        def __call__(self, input_ids, labels=None):
            ones = torch.ones_like(input_ids)
            h = self.encoder(embed(self.p, self.config, input_ids, torch.zeros_like(input_ids)), ones)
            logits = self.head(h)
            return types.SimpleNamespace(logits=logits, loss=None if labels is None else self.loss(logits, labels))

    class ElectraForPreTraining(Model):
        def head(self, h):
            s = self.sd
            x = F.gelu(F.linear(h, s["discriminator_predictions.dense.weight"], s["discriminator_predictions.dense.bias"]))
            return F.linear(x, s["discriminator_predictions.dense_prediction.weight"],
                            s["discriminator_predictions.dense_prediction.bias"]).squeeze(-1)

        def loss(self, logits, labels):  # every token attended: BCE averaged over all of them
            return F.binary_cross_entropy_with_logits(logits, labels.float())

    class ElectraForMaskedLM(Model):
        def head(self, h):
            s = self.sd
            x = F.gelu(F.linear(h, s["generator_predictions.dense.weight"], s["generator_predictions.dense.bias"]))
            x = F.layer_norm(x, (x.shape[-1],), s["generator_predictions.LayerNorm.weight"],
                             s["generator_predictions.LayerNorm.bias"], self.eps)
            return F.linear(x, self.generator_lm_head.weight, s["generator_lm_head.bias"])

        def loss(self, logits, labels):  # ignore_index -100
            return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))

    class AutoTokenizer:
        @classmethod
        def from_pretrained(cls, path):
            t = cls()
            t.path = path
            with open(os.path.join(path, "vocab.txt"), encoding="utf-8") as f:
                vocab = [line.rstrip("\n") for line in f]
            t.vocab_size = len(vocab)
            t.all_special_ids = [vocab.index(x) for x in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if x in vocab]
            t.mask_token_id = vocab.index("[MASK]")
            return t

        def __call__(self, text):
            out = subprocess.run([electra, "tokenize", "--model", self.path], input=json.dumps({"text": text}) + "\n",
                                 capture_output=True, text=True, check=True)
            return {"input_ids": json.loads(out.stdout)["input_ids"]}

    return AutoTokenizer, ElectraForPreTraining, ElectraForMaskedLM


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
    ap.add_argument("--reference", choices=("transformers", "twin"), default="transformers")
    args = ap.parse_args()
    if args.reference == "transformers":
        from transformers import AutoTokenizer, ElectraForMaskedLM, ElectraForPreTraining
    else:
        AutoTokenizer, ElectraForPreTraining, ElectraForMaskedLM = twin_classes(args.electra)
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
        json.dump({"made_by": "tools/pretrain_parity.py", "reference": args.reference, "run": args.run,
                   "cases": cases}, f, indent=1)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
