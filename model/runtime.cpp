#include "model/runtime.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

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

void set_cpu_threads(int threads) { at::set_num_threads(threads); }

int cpu_threads() { return at::get_num_threads(); }

}  // namespace electra
