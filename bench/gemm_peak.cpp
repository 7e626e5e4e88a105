// fp32 GEMM peak of this LibTorch's CPU BLAS at the process's thread count: the median FLOP/s of at::mm on square
// matrices (2 n^3 FLOPs per product). bench/peers divides each system's training FLOP/s by the peak of its own BLAS.
//
// usage: gemm_peak [--n 2048] [--reps 7] [--threads N] [--json FILE]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/blas.h"

int main(int argc, char** argv) {
  electra::restart_with_better_openblas_kernels(argv);  // the kernels electra itself runs with
  try {
    int64_t n = 2048, reps = 7, threads = 0;
    std::string json;
    for (int i = 1; i < argc; ++i) {
      const std::string key = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(key + " needs a value");
      const std::string value = argv[++i];
      if (key == "--n") n = std::stoll(value);
      else if (key == "--reps") reps = std::stoll(value);
      else if (key == "--threads") threads = std::stoll(value);
      else if (key == "--json") json = value;
      else throw std::invalid_argument("unknown option " + key);
    }
    if (threads > 0) at::set_num_threads(static_cast<int>(threads));
    at::manual_seed(0);
    const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
    at::Tensor c = at::mm(a, b);  // warm-up
    std::vector<double> gflops;
    for (int64_t r = 0; r < reps; ++r) {
      const auto t = std::chrono::steady_clock::now();
      at::mm_out(c, a, b);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
      gflops.push_back(2.0 * n * n * n / s / 1e9);
    }
    std::sort(gflops.begin(), gflops.end());
    const double med = gflops[gflops.size() / 2];
    fmt::print("gemm_peak: LibTorch {}, {} threads, fp32 {} x {}: median {:.1f} GFLOP/s (min {:.1f}, max {:.1f})\n",
               TORCH_VERSION, at::get_num_threads(), n, n, med, gflops.front(), gflops.back());
    if (!json.empty()) {
      std::ofstream(json) << fmt::format(
          "{{\"libtorch\": \"{}\", \"threads\": {}, \"n\": {}, \"gflops_median\": {}, \"gflops_min\": {}, "
          "\"gflops_max\": {}}}\n",
          TORCH_VERSION, at::get_num_threads(), n, med, gflops.front(), gflops.back());
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "gemm_peak: error: " << e.what() << "\n";
    return 1;
  }
}
