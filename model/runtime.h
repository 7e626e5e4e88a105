// What the command line asks of LibTorch itself (versions, devices, threads), without LibTorch's headers.
#pragma once

#include <cstdint>
#include <exception>
#include <string>

namespace electra {

std::string libtorch_version();  // "1.13.1"
int cuda_device_count();         // 0 without CUDA
// Free bytes on the current CUDA device (cudaMemGetInfo of the CUDA runtime LibTorch loaded); -1 without one.
int64_t cuda_free_memory_bytes();
// Whether this build uses LibTorch 2's fused kernels (fused attention, fused AdamW), and why not when it does not.
std::string fast_paths_description();
bool fused_kernels_built();
// What the LibTorch this was built against can run besides the CPU: "CUDA + NCCL", "CUDA", or "CPU only".
std::string libtorch_backends();
// The device a run uses for `device` (cpu | cuda | auto: cuda when LibTorch sees one); throws
// std::invalid_argument for cuda without CUDA, or an unknown name.
std::string resolve_device(const std::string& device);
// An error as the user reads it: one line. LibTorch's own errors lose their C++ backtrace and source location, and
// an allocation failure says how much was asked for.
std::string error_message(const std::exception& error);
void set_cpu_threads(int threads);
int cpu_threads();

}  // namespace electra
