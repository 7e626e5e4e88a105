#include "train/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace electra {
namespace {

// The API moved in LibTorch 2.4.
void set_cuda_bf16_autocast(bool enabled) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
}

}  // namespace

AutocastGuard::AutocastGuard(bool on) : on_(on) {
  if (on_) set_cuda_bf16_autocast(true);
}

AutocastGuard::~AutocastGuard() {
  if (on_) {
    set_cuda_bf16_autocast(false);
    at::autocast::clear_cache();
  }
}

}  // namespace electra
