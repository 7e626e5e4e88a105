#!/usr/bin/env python3
"""What a pre-trained discriminator learned, in three numbers a person can read (docs/pretraining.md).

For each exported model folder (config.json + model.safetensors in Hugging Face layout, as `electra pretrain`
writes `RUN/discriminator`), on the first --examples examples of a `--prepare` shard folder cut to --tokens tokens:
  - input dependence: the standard deviation across examples of one position's hidden state (--position), averaged
    over features, after the embeddings and after every layer. A layer whose output no longer depends on the input
    (it learned to output the prior of "replaced") shows a value near 0; a random encoder keeps about 1.
  - attention: the mean over examples and heads of [CLS]'s largest attention weight, per layer; 1/tokens is uniform.
  - nearest neighbours (cosine) of --words in the word embedding table: semantic neighbours mean the embeddings
    learned something a sentiment fine-tune can use.
  - for a generator export (ElectraForMaskedLM, RUN/generator): its masked LM loss and accuracy on the first
    --mlm-examples examples with every chosen token [MASK], beside the shards' unigram entropy and the share of their
    most frequent token, and the held-out cross-entropy of a count unigram and left-neighbour bigram model of the
    shards: a generator that has learned no context scores the unigram.
  - with --reference DIR (an export of the same run at its start, e.g. `electra pretrain ... --stop-after 1` with the
    run's config and seed): how far the word embeddings moved (median and 90th percentile over the vocabulary of
    |e - e_ref| / |e_ref| per token) and how many of each word's neighbours the reference table already had.

  python3 tools/research/pretrain_probe.py SHARDS MODEL_DIR... [--reference DIR] [--words 최고 최악 재밌] [--examples 64]
Needs PyTorch (Debian: python3-torch); it reads safetensors itself (float32 tensors, as electra writes them).
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from pretrain_eager_curve import pad_batch, read_shards  # noqa: E402
from pretrain_step_eager import Encoder  # noqa: E402


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    header_len = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + header_len])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {info['dtype']}; this probe reads F32 (what electra writes)")
        begin, end = info["data_offsets"]
        data = bytearray(blob[8 + header_len + begin:8 + header_len + end])
        tensors[name] = torch.frombuffer(data, dtype=torch.float32).reshape(info["shape"])
    return tensors


# Hugging Face's names of one encoder layer's modules -> the names in bench/pretrain_step_eager.py's Layer
LAYER_NAMES = {"attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
               "attention.output.dense": "attn_out", "attention.output.LayerNorm": "attn_ln",
               "intermediate.dense": "inter", "output.dense": "out", "output.LayerNorm": "out_ln"}


def word_embeddings(sd, folder):
    for name in ("electra.embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"):
        if name in sd:
            return sd[name]
    sys.exit(f"{folder}/model.safetensors: no word embeddings (electra.embeddings.word_embeddings.weight)")


def bigram_reference(corpus, special, vocab_size):
    """Held-out cross-entropy of count models on the shards (the first 90 % counted, the last 10 % scored, special
    tokens never predicted): the unigram, and a left-neighbour bigram interpolated with it (weight n / (n + 50),
    n the left token's count). What a masked LM that used only the token before a masked one could reach."""
    cut = len(corpus) * 9 // 10
    unigram = torch.zeros(vocab_size, dtype=torch.float64)
    pairs, left = {}, torch.zeros(vocab_size, dtype=torch.float64)
    for tokens, _ in corpus[:cut]:
        for a, b in zip(tokens, tokens[1:]):
            if b not in special:
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
                left[a] += 1
        for t in tokens:
            if t not in special:
                unigram[t] += 1
    unigram = (unigram + 0.5) / (unigram.sum() + 0.5 * vocab_size)
    uni_nll = bi_nll = n = 0.0
    for tokens, _ in corpus[cut:]:
        for a, b in zip(tokens, tokens[1:]):
            if b in special:
                continue
            weight = left[a].item() / (left[a].item() + 50)
            p_bigram = weight * pairs.get((a, b), 0) / max(left[a].item(), 1) + (1 - weight) * unigram[b].item()
            uni_nll -= math.log(unigram[b].item())
            bi_nll -= math.log(p_bigram)
            n += 1
    return uni_nll / n, bi_nll / n


def load_encoder(sd, config):
    """An export's encoder as bench/pretrain_step_eager.py's modules (the torch.nn twin of electra's, on which the
    eager curve was checked), and a lookup of its other tensors by Hugging Face name below `electra.`."""
    if config.get("hidden_act", "gelu") != "gelu":
        sys.exit(f"hidden_act {config['hidden_act']!r}: this probe runs the gelu encoder electra pre-trains")
    prefix = "electra." if "electra.embeddings.word_embeddings.weight" in sd else ""  # ElectraFor... or bare
    p = lambda k: sd[prefix + k]  # noqa: E731
    encoder = Encoder(config["embedding_size"], config["hidden_size"], config["num_hidden_layers"],
                      config["num_attention_heads"], config["intermediate_size"], config.get("layer_norm_eps", 1e-12))
    weights = {}
    if encoder.project is not None:
        weights.update({f"project.{w}": p(f"embeddings_project.{w}") for w in ("weight", "bias")})
    for layer in range(config["num_hidden_layers"]):
        for hf_name, name in LAYER_NAMES.items():
            for w in ("weight", "bias"):
                weights[f"layers.{layer}.{name}.{w}"] = p(f"encoder.layer.{layer}.{hf_name}.{w}")
    encoder.load_state_dict(weights)  # strict: a missing or extra tensor is an error
    return encoder, p


def embed(p, config, ids, types):
    x = (p("embeddings.word_embeddings.weight")[ids]
         + p("embeddings.position_embeddings.weight")[torch.arange(ids.shape[1])][None]
         + p("embeddings.token_type_embeddings.weight")[types])
    return F.layer_norm(x, (config["embedding_size"],), p("embeddings.LayerNorm.weight"),
                        p("embeddings.LayerNorm.bias"), config.get("layer_norm_eps", 1e-12))


def masked_lm(sd, config, examples, special, mask_id, mask_prob=0.15, seed=0):
    """A generator export (ElectraForMaskedLM) on the examples with every chosen position [MASK]: the loss and
    accuracy the masked positions alone have (the run's mlm_loss also counts the chosen tokens kept as they are,
    which a model learns to copy)."""
    encoder, p = load_encoder(sd, config)
    ids, mask, types = pad_batch(examples)
    eligible = mask.bool() & ~torch.isin(ids, torch.tensor(sorted(special)))
    chosen = eligible & (torch.rand(ids.shape, generator=torch.Generator().manual_seed(seed)) < mask_prob)
    hidden = encoder(embed(p, config, ids.masked_fill(chosen, mask_id), types), mask)[chosen]
    eps = config.get("layer_norm_eps", 1e-12)
    x = F.linear(hidden, sd["generator_predictions.dense.weight"], sd["generator_predictions.dense.bias"])
    x = F.layer_norm(F.gelu(x), (config["embedding_size"],), sd["generator_predictions.LayerNorm.weight"],
                     sd["generator_predictions.LayerNorm.bias"], eps)
    logits = F.linear(x, p("embeddings.word_embeddings.weight"), sd["generator_lm_head.bias"])
    targets = ids[chosen]
    return F.cross_entropy(logits, targets).item(), (logits.argmax(-1) == targets).float().mean().item(), len(targets)


def probe_encoder(sd, config, ids, position):
    """The spread after each stage of the export's encoder and [CLS]'s largest attention weight per layer."""
    encoder, p = load_encoder(sd, config)
    t = ids.shape[1]
    x = embed(p, config, ids, torch.zeros_like(ids))
    spread = [("embeddings", x[:, position].std(0).mean().item())]
    if encoder.project is not None:
        x = encoder.project(x)
        spread.append(("projection", x[:, position].std(0).mean().item()))
    no_padding = torch.zeros(1, 1, 1, t)  # every example is cut to t real tokens
    attention = []
    for i, layer in enumerate(encoder.layers):
        layer.keep_probs = True
        x = layer(x, no_padding)
        attention.append(layer.probs[:, :, 0, :].max(-1).values.mean().item())
        spread.append((f"layer {i}", x[:, position].std(0).mean().item()))
    return spread, attention


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shards", help="a folder `electra pretrain --prepare` wrote")
    parser.add_argument("models", nargs="+", help="exported model folders (config.json + model.safetensors)")
    parser.add_argument("--words", nargs="*", default=["최고", "최악", "재밌", "지루", "감동", "별로"])
    parser.add_argument("--neighbours", type=int, default=6)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--position", type=int, default=5)
    parser.add_argument("--reference", help="an export of the same shape to measure the embeddings' movement against")
    parser.add_argument("--mlm-examples", type=int, default=256, help="examples for a generator's masked LM loss")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    if not os.path.isfile(os.path.join(args.shards, "shards.json")):
        sys.exit(f"{args.shards}: no shards.json (give a folder `electra pretrain --prepare` wrote)")
    meta, corpus = read_shards(args.shards)
    examples = [e for e in corpus if len(e[0]) >= args.tokens][:args.examples]
    if len(examples) < 2:
        sys.exit(f"{args.shards}: fewer than 2 examples of {args.tokens}+ tokens")
    if not 0 <= args.position < args.tokens:
        sys.exit(f"--position {args.position} is outside the first {args.tokens} tokens")
    ids = torch.tensor([list(e[0][:args.tokens]) for e in examples], dtype=torch.long)
    reference = shard_stats = None
    folders = args.models + ([args.reference] if args.reference else [])
    for folder in folders:
        for name in ("config.json", "model.safetensors", "vocab.txt"):
            if not os.path.isfile(os.path.join(folder, name)):
                sys.exit(f"{folder}: no {name} (give a folder electra exported, e.g. RUN/discriminator)")
    if args.reference:
        reference = word_embeddings(load_safetensors(os.path.join(args.reference, "model.safetensors")),
                                    args.reference)
    for folder in args.models:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
            vocab = [line.rstrip("\r\n") for line in f]
        # the shards' fingerprint (corpus/shard_format.cpp vocab_fingerprint): the tokens joined by "\n"
        if hashlib.sha256("\n".join(vocab).encode("utf-8")).hexdigest() != meta["vocab_sha256"]:
            sys.exit(f"{folder}/vocab.txt is not the vocabulary {args.shards} was prepared with")
        sd = load_safetensors(os.path.join(folder, "model.safetensors"))
        spread, attention = probe_encoder(sd, config, ids, args.position)
        print(f"{folder}: {len(examples)} examples x {args.tokens} tokens, position {args.position}")
        print("  input dependence (std across examples): " + ", ".join(f"{n} {v:.3f}" for n, v in spread))
        print(f"  [CLS] max attention weight (uniform {1 / args.tokens:.3f}): "
              + ", ".join(f"layer {i} {v:.3f}" for i, v in enumerate(attention)))
        if "generator_lm_head.bias" in sd:
            if "[MASK]" not in vocab:
                sys.exit(f"{folder}/vocab.txt has no [MASK]")
            # every model's vocabulary is the shards' (checked above), so the special ids and the shards' count
            # models are the same for all of them: computed for the first generator only
            special = {vocab.index(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t in vocab}
            if shard_stats is None:
                counts = torch.zeros(len(vocab))
                for tokens, _ in corpus:
                    counts += torch.bincount(torch.tensor(tokens), minlength=len(vocab)).float()
                counts[sorted(special)] = 0
                unigram = counts[counts > 0] / counts.sum()
                shard_stats = (-(unigram * unigram.log()).sum().item(), unigram.max().item(),
                               *bigram_reference(corpus, special, len(vocab)))
            loss, accuracy, n = masked_lm(sd, config, corpus[:args.mlm_examples], special, vocab.index("[MASK]"))
            print(f"  masked LM, every chosen token [MASK] ({n} positions in {min(len(corpus), args.mlm_examples)} examples): "
                  f"loss {loss:.3f}, accuracy {accuracy:.3f}; the shards' unigram entropy {shard_stats[0]:.3f}, "
                  f"its most frequent token {shard_stats[1]:.3f}")
            print(f"  count models, 90 % of the shards counted, 10 % scored: unigram {shard_stats[2]:.3f}, "
                  f"left-neighbour bigram {shard_stats[3]:.3f}")
        raw = word_embeddings(sd, folder)
        table = F.normalize(raw, dim=1)
        if reference is not None:
            if reference.shape != raw.shape:
                sys.exit(f"{args.reference}: word embeddings {tuple(reference.shape)}, {folder} has {tuple(raw.shape)}")
            moved = ((raw - reference).norm(dim=1) / reference.norm(dim=1).clamp_min(1e-12))[1:]  # [PAD] stays 0
            print(f"  word embeddings moved from {args.reference}: median {moved.median().item():.2f}, "
                  f"90th percentile {moved.quantile(0.9).item():.2f} (|e - e_ref| / |e_ref| per token)")
            reference_table = F.normalize(reference, dim=1)
        index = {token: i for i, token in enumerate(vocab)}
        for word in args.words:
            if word not in index:
                print(f"  {word}: not in the vocabulary")
                continue
            best = (table @ table[index[word]]).topk(args.neighbours + 1).indices.tolist()[1:]
            line = f"  {word} -> " + " ".join(vocab[i] for i in best)
            if reference is not None:
                before = (reference_table @ reference_table[index[word]]).topk(args.neighbours + 1).indices.tolist()[1:]
                line += f"  ({len(set(best) & set(before))} of {args.neighbours} as in the reference)"
            print(line)


if __name__ == "__main__":
    main()
