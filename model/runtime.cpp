#include "model/runtime.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <stdexcept>

#include "model/torch_features.h"

namespace electra {

std::string libtorch_version() { return TORCH_VERSION; }

int cuda_device_count() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

std::string fast_paths_description() {
#if ELECTRA_FUSED_KERNELS
  return "on (fused attention, fused AdamW)";
#else
  return "off (LibTorch 1.x or ELECTRA_FAST_PATHS=OFF)";
#endif
}

std::string resolve_device(const std::string& device) {
  if (device == "cpu") return "cpu";
  if (device == "cuda" || device == "auto") {
    if (cuda_device_count() > 0) return "cuda";
    if (device == "cuda") {
      throw std::invalid_argument("device 'cuda' asked for, but LibTorch finds no CUDA device here (use cpu or auto)");
    }
    return "cpu";
  }
  throw std::invalid_argument(fmt::format("unknown device '{}' (known: cpu, cuda, auto)", device));
}

void set_cpu_threads(int threads) { at::set_num_threads(threads); }

int cpu_threads() { return at::get_num_threads(); }

}  // namespace electra
