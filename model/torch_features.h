// Which LibTorch kernels this build may use: one place for the version tests the fast paths need.
#pragma once

#include <torch/version.h>

// LibTorch 2 fused kernels (scaled_dot_product_attention, _fused_adamw_, _foreach_norm), unless the build turned
// them off with -DELECTRA_FAST_PATHS=OFF.
#if defined(ELECTRA_FAST_PATHS) && TORCH_VERSION_MAJOR >= 2
#define ELECTRA_FUSED_KERNELS 1
#else
#define ELECTRA_FUSED_KERNELS 0
#endif

// _foreach_mul_(TensorList, Tensor) came with LibTorch 2.1.
#if ELECTRA_FUSED_KERNELS && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 1)
#define ELECTRA_FOREACH_MUL_TENSOR 1
#else
#define ELECTRA_FOREACH_MUL_TENSOR 0
#endif
