#!/usr/bin/env bash
# The GPU machine's checks in one call (see ../shared/docs/gpu.md): only what needs a GPU. Everything else (the
# LibTorch 2.x + CUDA build, the whole suite in that world, transformers / tokenizers parity on the CPU) runs on
# every CI run here: make test-torch2, make test-hf. Builds electra against the machine's PyTorch wheel (LibTorch
# 2.x, CUDA) and Catch2 v3, then, each step bounded and logged under $OUT:
#   1. train_step_bench (ours) and tools/gpu/hf_baseline.py (transformers) on the same GPU, same shapes;
#   2. the test suite on a machine with a GPU (the CUDA test cases run; the rest ran in make test-torch2);
#   3. `electra finetune` of the demo on CUDA (fp32 and bf16), and tools/gpu/hf_check.py: Python transformers loads the
#      CUDA-trained model and gives electra's logits;
#   4. `electra pretrain` on CUDA, its exports against transformers (tools/checks/pretrain_parity.py);
#   5. pre-training throughput (tokens/s): electra pretrain against the same step in PyTorch eager, on CUDA.
# Libraries missing there (utf8proc, libcurl/libarchive headers) come as Debian .debs in .deps-debs, carried:
# `bash tools/gpu/fetch_device_debs.sh` here first, then run this with carry [".deps-debs"].
# usage (on the GPU machine, from the project root): bash tools/gpu/device_check.sh [quick]
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
PYTHONUNBUFFERED=1 timeout 120 python3 tools/gpu/hf_baseline.py --model small --modes fp32,tf32,bf16 --json "$OUT/hf_small.json"
step "train step: ELECTRA-base, ours then Hugging Face"
timeout 60 ./build-gpu/train_step_bench --device cuda --model base --modes tf32,bf16 --optimizers fused,graph --steps 20 \
  --json "$OUT/ours_base.json"
PYTHONUNBUFFERED=1 timeout 60 python3 tools/gpu/hf_baseline.py --model base --modes tf32,bf16 --steps 20 --json "$OUT/hf_base.json"

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
PYTHONUNBUFFERED=1 timeout 90 python3 tools/gpu/hf_check.py ./build-gpu/electra /tmp/gpu-demo-fp32/best \
  examples/data/nsmc/ratings_test.txt --json "$OUT/hf_check.json"
echo "hf_check exit status $?"

step "electra pretrain on CUDA: transformers loads both exports and gives their logits and losses"
rm -rf /tmp/gpu-pretrain
./build-gpu/electra pretrain --config configs/pretrain/tiny.yaml --corpus tests/fixtures/pretrain/corpus.txt \
  --vocab tests/fixtures/pretrain --output-dir /tmp/gpu-pretrain --set train.max_steps=20 --set device=cuda | tail -2
PYTHONUNBUFFERED=1 timeout 120 python3 tools/checks/pretrain_parity.py /tmp/gpu-pretrain ./build-gpu/electra "$OUT" \
  --reference transformers
echo "pretrain exports transformers check exit status $?"

step "pre-training throughput on the GPU: electra pretrain vs the same step in PyTorch eager (small, batch 128 x 128)"
timeout 150 bash bench/pretrain_throughput.sh build-gpu/electra small 128 20 "$(nproc)" cuda

left=$(( ${DEADLINE_S:-520} - ($(date +%s) - t0) ))
if [ -z "$quick" ] && [ "$left" -gt 90 ]; then
  step "Hugging Face's strongest mode: bf16 + torch.compile(mode=reduce-overhead), ELECTRA-small ($left s left)"
  PYTHONUNBUFFERED=1 timeout $((left - 10)) python3 tools/gpu/hf_baseline.py --model small --modes bf16_compile \
    --json "$OUT/hf_small_compile.json"
fi
echo; echo "device_check finished in $(( $(date +%s) - t0 )) s"
