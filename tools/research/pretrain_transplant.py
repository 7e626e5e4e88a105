#!/usr/bin/env python3
"""Which part of a pre-trained encoder helps or hurts a fine-tune (docs/pretraining.md, learning test).

Writes a model folder that is a random-initialised encoder (FRESH: `electra init --config PRETRAINED/config.json
--vocab PRETRAINED --output FRESH`) with the tensors whose names start with one of PREFIXES taken from PRETRAINED
(an export of `electra pretrain`: RUN/discriminator or RUN/generator; its `electra.` / `discriminator_predictions.` /
`generator_*` names are matched without the `electra.` prefix, heads never copied). The folder fine-tunes like any
model (`tools/research/pretrain_learning.sh build/electra OUT 42` compares it with FRESH's shape from random initialisation).

  python3 tools/research/pretrain_transplant.py PRETRAINED FRESH OUT PREFIX...
  e.g. ... RUN/discriminator runs/fresh runs/embeddings-only embeddings.        (pre-trained embeddings only)
       ... RUN/discriminator runs/fresh runs/reinit-top embeddings encoder.layer.0.  (embeddings, projection, layer 0;
                                                                                   the top layer re-initialised)
Needs PyTorch (Debian: python3-torch).
"""
import json
import os
import shutil
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pretrain_probe import load_safetensors  # noqa: E402


def save_safetensors(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        data = tensor.contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for data in blobs:
            f.write(data)
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    pretrained_dir, fresh_dir, out_dir, prefixes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    pretrained = {name[len("electra."):]: t for name, t in
                  load_safetensors(os.path.join(pretrained_dir, "model.safetensors")).items()
                  if name.startswith("electra.")}
    fresh = load_safetensors(os.path.join(fresh_dir, "model.safetensors"))
    copied = []
    for name in fresh:
        if any(name.startswith(p) for p in prefixes):
            if name not in pretrained or pretrained[name].shape != fresh[name].shape:
                sys.exit(f"{pretrained_dir}: no tensor electra.{name} of shape {list(fresh[name].shape)} "
                         f"(is {fresh_dir} initialised from its config.json?)")
            fresh[name] = pretrained[name]
            copied.append(name)
    for prefix in prefixes:
        if not any(name.startswith(prefix) for name in copied):
            sys.exit(f"prefix {prefix!r} matches no tensor of {fresh_dir}/model.safetensors")
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(fresh_dir):
        if name != "model.safetensors":
            shutil.copy(os.path.join(fresh_dir, name), os.path.join(out_dir, name))
    save_safetensors(fresh, os.path.join(out_dir, "model.safetensors"))
    print(f"{out_dir}: {len(copied)} of {len(fresh)} tensors from {pretrained_dir}, the rest from {fresh_dir}")


if __name__ == "__main__":
    main()
