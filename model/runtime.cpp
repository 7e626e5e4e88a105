#include "model/runtime.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <c10/util/Exception.h>

#include <dlfcn.h>

#include <cstdlib>
#include <new>
#include <stdexcept>

#include "model/torch_features.h"

namespace electra {

std::string libtorch_version() { return TORCH_VERSION; }

int cuda_device_count() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

int64_t cuda_free_memory_bytes() {
  if (cuda_device_count() == 0) return -1;
  // Looked up where LibTorch's CUDA libraries put it, so that no build links the CUDA runtime itself.
  using MemGetInfo = int (*)(size_t*, size_t*);
  const auto get_info = reinterpret_cast<MemGetInfo>(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
  size_t free = 0, total = 0;
  if (get_info == nullptr || get_info(&free, &total) != 0) return -1;
  return static_cast<int64_t>(free);
}

std::string fast_paths_description() {
#if ELECTRA_FUSED_KERNELS
  return "on (fused attention, fused AdamW)";
#else
  return "off (LibTorch 1.x or ELECTRA_FAST_PATHS=OFF)";
#endif
}

bool fused_kernels_built() { return ELECTRA_FUSED_KERNELS != 0; }

std::string libtorch_backends() {
#if defined(ELECTRA_TORCH_CUDA) && defined(USE_C10D_NCCL)
  return "CUDA + NCCL";
#elif defined(ELECTRA_TORCH_CUDA)
  return "CUDA";
#else
  return "CPU only";
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

std::string error_message(const std::exception& error) {
  if (dynamic_cast<const std::bad_alloc*>(&error)) return "out of memory (an allocation failed)";
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  std::string message = torch_error ? torch_error->what_without_backtrace() : error.what();
  if (torch_error) {
    // "[enforce fail at alloc_cpu.cpp:75] data. DefaultCPUAllocator: not enough memory: you tried to allocate N bytes."
    if (const size_t close = message.find("] "); message.rfind("[enforce fail at ", 0) == 0 && close != std::string::npos)
      message = message.substr(close + 2);
    const size_t asked = message.find("you tried to allocate ");
    if (asked != std::string::npos) {
      const double bytes = std::atof(message.c_str() + asked + 22);
      message = fmt::format("out of memory: LibTorch could not allocate {:.1f} GB", bytes / 1e9);
    }
    message = "LibTorch: " + message;
  }
  const size_t newline = message.find('\n');
  if (newline != std::string::npos) message = message.substr(0, newline);
  while (!message.empty() && (message.back() == ' ' || message.back() == '\r')) message.pop_back();
  return message;
}

void set_cpu_threads(int threads) { at::set_num_threads(threads); }

int cpu_threads() { return at::get_num_threads(); }

}  // namespace electra
