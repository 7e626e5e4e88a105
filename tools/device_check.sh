#!/usr/bin/env bash
# The GPU machine's checks in one call (see ../shared/docs/gpu.md): builds electra against the PyTorch wheel's
# LibTorch 2.x (CUDA) and Catch2 v3, then, each step bounded and logged under $OUT:
#   1. train_step_bench (ours) and tools/hf_baseline.py (transformers) on the same GPU, same shapes;
#   2. the whole test suite (electra_core_tests, electra_tests) in this world;
#   3. `electra finetune` of the demo on CUDA (fp32 and bf16), and tools/hf_check.py: Python transformers loads the
#      saved model and gives electra's logits;
#   4. Python transformers loads the models `electra init` writes (tiny, small) and `electra pretrain` exports, and
#      on fixed inputs, masks and replacements gives the logits and losses `electra predict` gives for the exports;
#   5. pre-training throughput (tokens/s): electra pretrain against the same step in PyTorch eager, on CUDA;
#   6. tokenizer_bench against Hugging Face tokenizers on this machine's CPU.
# Libraries missing there (utf8proc, libcurl/libarchive headers) come as Debian .debs in .deps-debs, carried:
# `bash tools/fetch_device_debs.sh` here first, then run this with carry [".deps-debs"].
# usage (on the GPU machine, from the project root): bash tools/device_check.sh [quick]
set -uo pipefail
OUT=${OUT:-/tmp/electra-device-out}
mkdir -p "$OUT"
quick=${1:-}
step() { echo; echo "== $(date -u +%T) $*"; }
t0=$(date +%s)

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, transformers, tokenizers; print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)'
gcc --version | head -1; cmake --version | head -1

step "dependencies from .deps-debs"
pfx=/tmp/electra-pfx
rm -rf "$pfx"; mkdir -p "$pfx/deb" "$pfx/rt"
for f in .deps-debs/*.deb; do dpkg -x "$f" "$pfx/deb"; done
lib="$pfx/deb/usr/lib/x86_64-linux-gnu"
# Runtime libraries: the machine's own where it has the soname, the carried Debian one only where it lacks it.
for so in "$lib"/*.so.*; do
  name=$(basename "$so")
  [[ $name =~ \.so\.[0-9]+$ ]] || continue
  if ! ldconfig -p | awk '{print $1}' | grep -qx "$name"; then ln -sf "$so" "$pfx/rt/$name"; fi
done
echo "carried runtime libraries used: $(ls "$pfx/rt" | tr '\n' ' ')"
export LD_LIBRARY_PATH="$pfx/rt${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')

build() {
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;$pfx/deb/usr" \
    -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu -DCMAKE_EXE_LINKER_FLAGS="-Wl,--allow-shlib-undefined" "$@" \
    >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; return 1; }
  grep "electra: Torch" "$OUT/configure.log"
  # The programs the checks need first; then everything else (a failing bench must not stop the tests).
  cmake --build build-gpu -j"$(nproc)" --target electra electra_core_tests electra_tests -- -k 0 >"$OUT/build.log" 2>&1 ||
    { grep -A6 "error:" "$OUT/build.log" | head -80; return 1; }
  cmake --build build-gpu -j"$(nproc)" -- -k 0 >>"$OUT/build.log" 2>&1 ||
    { echo "SOME BENCH PROGRAMS FAILED TO BUILD:"; grep -A6 "error:" "$OUT/build.log" | head -60; }
  return 0
}
step "build (LibTorch 2.x CUDA, Catch2 v3)"
fast_paths=ON
if ! build -DELECTRA_FAST_PATHS=ON; then
  echo "BUILD WITH FAST PATHS FAILED; retrying with -DELECTRA_FAST_PATHS=OFF"
  fast_paths=OFF
  build -DELECTRA_FAST_PATHS=OFF || { echo "BUILD FAILED"; exit 1; }
fi
echo "built with ELECTRA_FAST_PATHS=$fast_paths in $(( $(date +%s) - t0 )) s since start"

step "train step: electra (ours), ELECTRA-small"
timeout 150 ./build-gpu/train_step_bench --device cuda --model small --optimizers fused,loop,graph \
  --json "$OUT/ours_small.json"
step "train step: Hugging Face transformers, ELECTRA-small, same GPU"
PYTHONUNBUFFERED=1 timeout 120 python3 tools/hf_baseline.py --model small --modes fp32,tf32,bf16 --json "$OUT/hf_small.json"
step "train step: ELECTRA-base, ours then Hugging Face"
timeout 60 ./build-gpu/train_step_bench --device cuda --model base --modes tf32,bf16 --optimizers fused,graph --steps 20 \
  --json "$OUT/ours_base.json"
PYTHONUNBUFFERED=1 timeout 60 python3 tools/hf_baseline.py --model base --modes tf32,bf16 --steps 20 --json "$OUT/hf_base.json"

step "tests (electra_core_tests, electra_tests)"
(cd build-gpu && timeout 60 ./electra_core_tests "~[browser]" >"$OUT/core_tests.log" 2>&1; echo "electra_core_tests exit status $?")
tail -4 "$OUT/core_tests.log"
(cd build-gpu && timeout 150 ./electra_tests >"$OUT/tests.log" 2>&1; echo "electra_tests exit status $?")
tail -4 "$OUT/tests.log"
grep -B3 -A12 "FAILED" "$OUT/core_tests.log" "$OUT/tests.log" | head -60

step "electra finetune on CUDA: the demo, fp32 then bf16"
for prec in fp32 bf16; do
  bf=false; [ $prec = bf16 ] && bf=true
  timeout 90 ./build-gpu/electra finetune --config configs/demo/nsmc.yaml --device cuda --set train.bf16=$bf \
    --output-dir /tmp/gpu-demo-$prec 2>&1 | grep -E "device|test accuracy|error" | tail -3
done
step "Python transformers loads electra's saved model (fp32 CUDA run), same logits as electra predict"
PYTHONUNBUFFERED=1 timeout 90 python3 tools/hf_check.py ./build-gpu/electra /tmp/gpu-demo-fp32/best \
  examples/data/nsmc/ratings_test.txt --json "$OUT/hf_check.json"
echo "hf_check exit status $?"

step "Python transformers loads what electra init writes (tiny and small): no missing or unexpected keys"
for size in tiny small; do
  rm -rf /tmp/gpu-init-$size
  ./build-gpu/electra init --config $size --vocab tests/fixtures/tokenizer/vocab.txt --output /tmp/gpu-init-$size \
    | tail -1
  PYTHONUNBUFFERED=1 timeout 60 python3 - /tmp/gpu-init-$size <<'PY'
import sys
import torch
from transformers import AutoTokenizer, ElectraModel
path = sys.argv[1]
model, info = ElectraModel.from_pretrained(path, output_loading_info=True)
problems = {k: v for k, v in info.items() if v}
tokens = AutoTokenizer.from_pretrained(path)("hello world", return_tensors="pt")
with torch.no_grad():
    hidden = model(**tokens).last_hidden_state
std = model.embeddings.word_embeddings.weight[1:].std().item()
print(f"{path}: loading info {problems or 'clean'}; {sum(p.numel() for p in model.parameters())} parameters; "
      f"word embedding std {std:.4f} (initializer_range {model.config.initializer_range}); output {tuple(hidden.shape)}")
sys.exit(1 if problems else 0)
PY
  echo "init $size transformers check exit status $?"
done

step "Python transformers loads what electra pretrain exports (ElectraForPreTraining, ElectraForMaskedLM)"
rm -rf /tmp/gpu-pretrain
./build-gpu/electra pretrain --config configs/pretrain/tiny.yaml --corpus tests/fixtures/pretrain/corpus.txt \
  --vocab tests/fixtures/pretrain --output-dir /tmp/gpu-pretrain --set train.max_steps=20 --set device=cuda | tail -2
PYTHONUNBUFFERED=1 timeout 120 python3 - /tmp/gpu-pretrain ./build-gpu/electra "$OUT" <<'PY'
# transformers loads both exports. On fixed inputs, masks and replacements (seeded here, written to
# $OUT/pretrain_parity.json as a fixture), `electra predict --device cpu` with the same labels gives transformers'
# logits and loss: the discriminator's logits per token and BCE loss, the generator's top 5 logits per position and
# MLM loss; bound: 1e-4 relative (logits: of the largest |logit|).
import json, subprocess, sys
import torch
from transformers import AutoTokenizer, ElectraForMaskedLM, ElectraForPreTraining
run, electra, out = sys.argv[1:4]
texts = ["the movie was good", "a sea holds the ball and her sister", "the the the in a sea", "ball"]
tokenizer = AutoTokenizer.from_pretrained(f"{run}/discriminator")
specials = set(tokenizer.all_special_ids)
g = torch.Generator().manual_seed(20231)
cases = []
for text in texts:
    ids = tokenizer(text)["input_ids"]
    candidates = [i for i, t in enumerate(ids) if t not in specials]
    k = max(1, round(0.15 * len(candidates)))
    chosen = [candidates[i] for i in torch.randperm(len(candidates), generator=g)[:k].tolist()]
    masked = list(ids)
    replaced = list(ids)
    for i in chosen:
        masked[i] = tokenizer.mask_token_id
        replaced[i] = int(torch.randint(len(specials), tokenizer.vocab_size, (1,), generator=g))
    cases.append({"text": text, "input_ids": ids, "chosen": chosen,
                  "generator": {"input_ids": masked, "labels": [ids[i] if i in chosen else -100 for i in range(len(ids))]},
                  "discriminator": {"input_ids": replaced, "labels": [int(replaced[i] != ids[i]) for i in range(len(ids))]}})
bad = 0
for cls, sub in ((ElectraForPreTraining, "discriminator"), (ElectraForMaskedLM, "generator")):
    path = f"{run}/{sub}"
    model, info = cls.from_pretrained(path, output_loading_info=True)
    model.eval()
    problems = {k: v for k, v in info.items() if v}
    tied = sub != "generator" or model.generator_lm_head.weight.data_ptr() == model.electra.embeddings.word_embeddings.weight.data_ptr()
    with open(f"{out}/{sub}_in.jsonl", "w") as f:
        for c in cases:
            f.write(json.dumps(c[sub]) + "\n")
    ours = subprocess.run([electra, "predict", "--model", path, "--input", f"{out}/{sub}_in.jsonl", "--device", "cpu"]
                          + (["--top-k", "5"] if sub == "generator" else []), capture_output=True, text=True)
    if ours.returncode != 0:
        print(f"{sub}: electra predict failed: {ours.stderr.strip()}"); bad += 1; continue
    worst_logits = worst_loss = 0.0
    for c, line in zip(cases, ours.stdout.splitlines()):
        got = json.loads(line)
        with torch.no_grad():
            hf = model(input_ids=torch.tensor([c[sub]["input_ids"]]), labels=torch.tensor([c[sub]["labels"]]))
        logits = hf.logits[0]
        c[sub]["hf_loss"] = hf.loss.item()
        c[sub]["electra_loss"] = got["loss"]
        if sub == "discriminator":
            c[sub]["hf_logits"] = logits.tolist()
            diff = (torch.tensor(got["logits"]) - logits).abs().max()
        else:
            # The same top-5 values, and transformers' logits at electra's ids equal electra's (ids may swap only
            # where two logits tie).
            top = logits.topk(5, dim=-1)
            c[sub]["hf_top_ids"], c[sub]["hf_top_logits"] = top.indices.tolist(), top.values.tolist()
            mine = torch.tensor(got["top_logits"])
            diff = max((mine - top.values).abs().max(), (mine - logits.gather(1, torch.tensor(got["top_ids"]))).abs().max())
        worst_logits = max(worst_logits, (diff / logits.abs().max()).item())
        worst_loss = max(worst_loss, abs(got["loss"] - hf.loss.item()) / abs(hf.loss.item()))
    print(f"{sub}: {cls.__name__} loading info {problems or 'clean'}; lm head tied {tied}; electra predict vs "
          f"transformers on {len(cases)} lines: logits max |diff| / max |logit| {worst_logits:.2e}, loss relative "
          f"difference {worst_loss:.2e} (bound 1e-4 each)")
    bad += bool(problems) or not tied or worst_logits > 1e-4 or worst_loss > 1e-4
json.dump({"made_by": "tools/device_check.sh step 4", "model": run, "cases": cases}, open(f"{out}/pretrain_parity.json", "w"), indent=1)
sys.exit(1 if bad else 0)
PY
echo "pretrain exports transformers check exit status $?"

step "pre-training throughput on the GPU: electra pretrain vs the same step in PyTorch eager (small, batch 128 x 128)"
timeout 150 bash bench/pretrain_throughput.sh build-gpu/electra small 128 20 "$(nproc)" cuda

step "tokenizer: electra tokenizer_bench vs tokenizers (1 thread, then all threads)"
timeout 60 ./build-gpu/tokenizer_bench
RAYON_NUM_THREADS=1 timeout 60 python3 tools/hf_tokenizer_baseline.py tests/fixtures/tokenizer/vocab.txt \
  bench/data/tokenizer_corpus_sample.txt
timeout 60 python3 tools/hf_tokenizer_baseline.py tests/fixtures/tokenizer/vocab.txt bench/data/tokenizer_corpus_sample.txt
left=$(( ${DEADLINE_S:-520} - ($(date +%s) - t0) ))
if [ -z "$quick" ] && [ "$left" -gt 90 ]; then
  step "Hugging Face's strongest mode: bf16 + torch.compile(mode=reduce-overhead), ELECTRA-small ($left s left)"
  PYTHONUNBUFFERED=1 timeout $((left - 10)) python3 tools/hf_baseline.py --model small --modes bf16_compile \
    --json "$OUT/hf_small_compile.json"
fi
echo; echo "device_check finished in $(( $(date +%s) - t0 )) s"
