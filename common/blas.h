// The BLAS this process multiplies with (Debian's LibTorch reaches it through libblas.so.3), and the one OpenBLAS
// setting that must be made before the library loads: which CPU's kernels it uses.
#pragma once

#include <string>

namespace electra {

struct BlasInfo {
  std::string library;  // the file that holds sgemm_ (empty when none is loaded: the wheel's LibTorch keeps MKL inside)
  std::string core;     // OpenBLAS's kernel set ("Cooperlake", "SkylakeX", "Haswell"); empty for another BLAS
  std::string config;   // openblas_get_config(): version, threading model, build options
};

BlasInfo loaded_blas();
// One line for `electra version`: "OpenBLAS 0.3.21 ... USE_OPENMP Cooperlake ... from /usr/lib/...", or what else.
std::string blas_description();

// The OPENBLAS_CORETYPE that should replace OpenBLAS's own choice: "SkylakeX" when it chose kernels without AVX-512
// (OpenBLAS 0.3.21 takes Haswell's on some AVX-512 CPUs it does not know) although the CPU has AVX-512 F/CD/BW/DQ/VL;
// empty when its choice stands.
std::string better_openblas_core(const std::string& chosen_core, bool cpu_has_avx512);
bool cpu_has_avx512();

// When OpenBLAS chose slower kernels than this CPU runs and OPENBLAS_CORETYPE is unset, starts this program again
// (execv of /proc/self/exe, same arguments) with OPENBLAS_CORETYPE set: OpenBLAS reads it only while loading.
// Returns (doing nothing) otherwise or when the exec fails.
void restart_with_better_openblas_kernels(char** argv);

}  // namespace electra
