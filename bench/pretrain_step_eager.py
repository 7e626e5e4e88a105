#!/usr/bin/env python3
"""The ELECTRA pre-training step in PyTorch eager: the baseline that bench/pretrain_throughput.sh sets beside
`electra pretrain`'s step, measured in the same call.

The step is the one electra runs (and google-research/electra's objective): dynamic masking of 15 % of the real
tokens (85 % [MASK], 15 % kept), the generator (Hugging Face ElectraForMaskedLM layout, its word embeddings tied to
the lm head) and the discriminator (ElectraForPreTraining layout) sharing one embeddings module, replacements
sampled from the generator's softmax, loss = MLM + 50 * RTD, backward, global-norm clipping at 1.0, AdamW.
Written with torch.nn only (Debian's python3-torch; `transformers` is not needed): the modules are the Hugging Face
ones, operation for operation.

    python3 bench/pretrain_step_eager.py --size small --batch 32 --seq 128 --steps 5 --threads 2 [--device cuda]

prints one JSON line: {"impl": "pytorch-eager", "ms_per_step": ..., "tokens_per_s": ...}.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {
    # discriminator E, H, L, A, I and the generator's fraction of H (the paper's)
    "tiny": dict(E=64, H=128, L=2, A=2, I=256, gen=0.25),
    "small": dict(E=128, H=256, L=12, A=4, I=1024, gen=0.25),
    "base": dict(E=768, H=768, L=12, A=12, I=3072, gen=1 / 3),
}


class Layer(nn.Module):
    def __init__(self, H, A, I, eps):
        super().__init__()
        self.A, self.d = A, H // A
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.attn_out, self.attn_ln = nn.Linear(H, H), nn.LayerNorm(H, eps=eps)
        self.inter, self.out, self.out_ln = nn.Linear(H, I), nn.Linear(I, H), nn.LayerNorm(H, eps=eps)
        self.keep_probs, self.probs = False, None  # tools/research/pretrain_probe.py reads the attention probabilities

    def forward(self, x, add_mask):
        B, T, H = x.shape
        split = lambda t: t.view(B, T, self.A, self.d).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        probs = (q @ k.transpose(-1, -2) / math.sqrt(self.d) + add_mask).softmax(-1)
        if self.keep_probs:
            self.probs = probs.detach()
        ctx = (probs @ v).transpose(1, 2).reshape(B, T, H)
        x = self.attn_ln(self.attn_out(ctx) + x)
        return self.out_ln(self.out(F.gelu(self.inter(x))) + x)


class Encoder(nn.Module):
    def __init__(self, E, H, L, A, I, eps):
        super().__init__()
        self.project = nn.Linear(E, H) if E != H else None
        self.layers = nn.ModuleList([Layer(H, A, I, eps) for _ in range(L)])

    def forward(self, emb, attention_mask):
        add_mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = self.project(emb) if self.project is not None else emb
        for layer in self.layers:
            x = layer(x, add_mask)
        return x


class Electra(nn.Module):
    def __init__(self, V, E, H, L, A, I, gen, P=512, eps=1e-12):
        super().__init__()
        self.word = nn.Embedding(V, E, padding_idx=0)
        self.position, self.token_type = nn.Embedding(P, E), nn.Embedding(2, E)
        self.emb_ln = nn.LayerNorm(E, eps=eps)
        # google's get_generator_config: H_g = round(H * size), A_g = max(1, H_g // 64), I_g = 4 H_g
        Hg = int(round(H * gen))
        Ag, Ig = max(1, Hg // 64), 4 * Hg
        self.generator = Encoder(E, Hg, L, Ag, Ig, eps)
        self.gen_dense, self.gen_ln = nn.Linear(Hg, E), nn.LayerNorm(E, eps=eps)
        self.gen_bias = nn.Parameter(torch.zeros(V))
        self.discriminator = Encoder(E, H, L, A, I, eps)
        self.disc_dense, self.disc_pred = nn.Linear(H, H), nn.Linear(H, 1)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.data.normal_(0.0, 0.02)
                if isinstance(m, nn.Linear):
                    m.bias.data.zero_()

    def embed(self, ids, types):
        pos = torch.arange(ids.shape[1], device=ids.device)[None, :]
        return self.emb_ln(self.word(ids) + self.position(pos) + self.token_type(types))

    def objective(self, ids, types, mask, masked_ids, chosen, generator, disc_weight=50.0, replacement_probs=None):
        """One ELECTRA step's loss and its parts. Replacements are drawn from the generator's softmax, or from
        `replacement_probs` (a [V] distribution) when given. Returns (loss, parts): parts holds mlm, rtd,
        gen_logits and targets (the chosen positions, row-major), disc_logits and labels ([B, T])."""
        h = self.generator(self.embed(masked_ids, types), mask)
        # the lm head at the masked positions only, as google-research/electra's get_masked_lm_output gathers them
        # (Hugging Face's ElectraForMaskedLM scores every position; the loss is the same)
        gen_logits = F.linear(self.gen_ln(F.gelu(self.gen_dense(h[chosen]))), self.word.weight, self.gen_bias)
        targets = ids[chosen]
        mlm = F.cross_entropy(gen_logits, targets)
        with torch.no_grad():
            if replacement_probs is None:
                probs = gen_logits.float().softmax(-1)
            else:
                probs = replacement_probs.expand(targets.numel(), -1)
            sampled = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            fake = masked_ids.clone()
            fake[chosen] = sampled
            labels = (fake != ids).float()
        d = self.discriminator(self.embed(fake, types), mask)
        disc_logits = self.disc_pred(F.gelu(self.disc_dense(d))).squeeze(-1)
        active = mask.bool()
        rtd = F.binary_cross_entropy_with_logits(disc_logits[active], labels[active])
        parts = dict(mlm=mlm, rtd=rtd, gen_logits=gen_logits, targets=targets, disc_logits=disc_logits, labels=labels)
        return mlm + disc_weight * rtd, parts

    def forward(self, ids, types, mask, masked_ids, mlm_labels, generator):
        return self.objective(ids, types, mask, masked_ids, mlm_labels != -100, generator)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small", choices=SIZES)
    ap.add_argument("--vocab", type=int, default=32200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Electra(args.vocab, **SIZES[args.size]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, eps=1e-6, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)  # masking, on the CPU as electra's
    sample_g = g if device.type == "cpu" else torch.Generator(device=device).manual_seed(0)  # replacements
    ids = torch.randint(5, args.vocab, (args.batch, args.seq), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        # dynamic masking: 15 % of the real tokens, 85 % of them [MASK] (id 4), the rest kept
        candidates = torch.rand(ids.shape, generator=g)
        candidates[:, 0] = candidates[:, -1] = 2.0
        chosen = candidates < 0.15
        masked_ids = torch.where(chosen & (torch.rand(ids.shape, generator=g) < 0.85), torch.full_like(ids, 4), ids)
        mlm_labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        on = lambda t: t.to(device, non_blocking=True)  # noqa: E731
        opt.zero_grad(set_to_none=True)
        loss = model(on(ids), on(types), on(mask), on(masked_ids), on(mlm_labels), sample_g)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        float(loss)  # waits for the device
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    ms = 1000 * times[len(times) // 2]
    print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "device": str(device), "size": args.size, "batch": args.batch,
                      "seq": args.seq, "threads": torch.get_num_threads(), "ms_per_step": round(ms, 1),
                      "tokens_per_s": round(args.batch * args.seq / ms * 1000)}))


if __name__ == "__main__":
    main()
