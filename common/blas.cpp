#include "common/blas.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

namespace electra {
namespace {

template <typename Function>
Function find_symbol(const char* name) {
  return reinterpret_cast<Function>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

BlasInfo loaded_blas() {
  BlasInfo info;
  if (void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_")) {
    Dl_info where{};
    if (dladdr(sgemm, &where) != 0 && where.dli_fname != nullptr) info.library = where.dli_fname;
  }
  if (auto corename = find_symbol<char* (*)()>("openblas_get_corename")) info.core = corename();
  if (auto config = find_symbol<char* (*)()>("openblas_get_config")) info.config = config();
  return info;
}

std::string blas_description() {
  const BlasInfo blas = loaded_blas();
  if (blas.library.empty()) return "none loaded (LibTorch multiplies with its own BLAS, e.g. the wheel's MKL)";
  if (blas.core.empty()) return blas.library;
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  return fmt::format("{}{} from {}", blas.config, forced != nullptr ? fmt::format(" (OPENBLAS_CORETYPE={})", forced) : "",
                     blas.library);
}

bool cpu_has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

std::string better_openblas_core(const std::string& chosen_core, bool cpu_has_avx512) {
  if (!cpu_has_avx512 || chosen_core.empty()) return "";
  // OpenBLAS's x86-64 kernel sets that use AVX-512 (0.3.21: SkylakeX, Cooperlake; later: SapphireRapids, Zen 4+).
  std::string lower;
  for (char c : chosen_core) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const char* avx512 : {"skylakex", "cooperlake", "sapphirerapids", "zen4", "zen5"})
    if (lower == avx512) return "";
  return "SkylakeX";
}

void restart_with_better_openblas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice, or this restart's
  const std::string better = better_openblas_core(loaded_blas().core, cpu_has_avx512());
  if (better.empty()) return;
  if (setenv("OPENBLAS_CORETYPE", better.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // exec failed: go on with OpenBLAS's own choice
}

}  // namespace electra
