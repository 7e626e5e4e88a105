// electra: fine-tune and evaluate ELECTRA encoders. Parses the command line, runs one subcommand,
// and is the only place that catches errors.
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <thread>

#include "cli/commands.h"
#include "common/blas.h"
#include "common/stop_signal.h"
#include "model/runtime.h"

namespace electra::cli {

void add_version_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the versions of electra and LibTorch, and the CUDA devices seen");
  cmd->callback([] {
    fmt::print("electra {} (LibTorch {}, built with {})\n", ELECTRA_VERSION, libtorch_version(), libtorch_backends());
    fmt::print("CUDA devices: {}; fast paths: {}; CPU threads: {}\n", cuda_device_count(), fast_paths_description(),
               cpu_threads());
    fmt::print("BLAS: {}\n", blas_description());
  });
}

}  // namespace electra::cli

namespace {
constexpr int kMaxThreadsPerCore = 4;
}  // namespace

int main(int argc, char** argv) {
  electra::restart_with_better_openblas_kernels(argv);
  CLI::App app{"electra: fine-tune and evaluate ELECTRA encoders on Korean and English benchmarks"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for LibTorch (default: all cores)")->check(CLI::NonNegativeNumber);
  app.parse_complete_callback([&] {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    // More threads than a few per core only add contention; LibTorch starts each one up front, so 100,000 would
    // take minutes before anything runs.
    const int most = kMaxThreadsPerCore * cores;
    if (threads > most) {
      fmt::print(stderr, "electra: warning: --threads {} is more than {} per core on this machine's {} cores: using {}\n",
                 threads, kMaxThreadsPerCore, cores, most);
      threads = most;
    }
    electra::set_cpu_threads(threads > 0 ? threads : cores);
  });

  electra::cli::add_version_command(app);
  electra::cli::add_inspect_command(app);
  electra::cli::add_predict_command(app);
  electra::cli::add_score_command(app);
  electra::cli::add_tasks_command(app);
  electra::cli::add_tokenize_command(app);
  electra::cli::add_download_command(app);
  electra::cli::add_eval_command(app);
  electra::cli::add_finetune_command(app);
  electra::cli::add_init_command(app);
  electra::cli::add_vocab_command(app);
  electra::cli::add_pretrain_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const electra::StoppedBySignal& e) {
    // A run has said where it stopped and how to resume; work that saves nothing says it here.
    std::fflush(stdout);
    if (!e.line().empty()) fmt::print(stderr, "{}\n", e.line());
    return electra::kStoppedExitCode;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "electra: error: {}\n", electra::error_message(e));
    return 1;
  }
  return 0;
}
