# The two commands of README: `make demo` (the main job on shipped tiny data) and `make test`.
# Both install the Debian packages they need first (apt-get; sudo when not root).
# Another LibTorch (e.g. a PyTorch wheel's, with CUDA):
#   make build BUILD_DIR=build-cuda CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
DEB_PACKAGES = build-essential cmake ninja-build ccache libtorch-dev libopenblas0-pthread catch2 \
  libcli11-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libutf8proc-dev \
  libcurl4-openssl-dev libarchive-dev python3 chromium clang libclang-rt-14-dev libgloo-dev
# make test-real compares `electra score` with scikit-learn and scipy themselves
REAL_DEB_PACKAGES = python3-sklearn python3-scipy

.PHONY: all deps deps-real install-packages configure build test test-sanitize test-real demo bench fuzz clean

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

# ASan + UBSan build of the whole test suite in build-asan (cmake/sanitize.cmake, README "Sanitizers").
test-sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DELECTRA_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure

# The real upstream files (README "Real data"): make test-real DATA=../shared/real-data
test-real: build deps-real
	@test -n "$(DATA)" || { echo "usage: make test-real DATA=DIR (laid out as ../shared/real-data)"; exit 2; }
	@test -d "$(DATA)" || { echo "make test-real: $(DATA) is not a folder"; exit 2; }
	ELECTRA_REAL_DATA="$$(realpath "$(DATA)")" $(BUILD_DIR)/electra_real_tests --durations yes

demo: build
	./tools/demo.sh $(BUILD_DIR)/electra

bench: build
	$(BUILD_DIR)/tokenizer_bench
	$(BUILD_DIR)/train_step_bench --device cpu --batch 8 --seq 64 --steps 5 --warmup 1 --infer-batch 16 --modes fp32 \
	  --optimizers loop

# libFuzzer targets (clang, ASan + UBSan) for every parser of outside input, SECONDS each (README "Reliability"):
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
