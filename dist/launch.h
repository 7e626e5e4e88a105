// `electra finetune --nproc N`: N local ranks of this very command line, started with torchrun's environment.
#pragma once

#include <string>
#include <vector>

namespace electra {

struct LaunchOptions {
  int nproc = 1;             // local ranks to start
  double timeout_s = 300;    // after a rank fails, how long the others get to end on their own
};

// True inside a rank that --nproc started (its own --nproc flag is then not obeyed again).
bool launched_rank();

// Starts `options.nproc` copies of this executable (/proc/self/exe) with `args` (argv without argv[0]) and
// RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT (a free port) and, when unset,
// OMP_NUM_THREADS (the cores shared out) set; waits for all of them. Returns when every rank exited 0; throws
// std::runtime_error naming the first rank that failed and how (exit status or signal). Ranks still running
// `timeout_s` + 30 s after a failure are ended (SIGTERM, then SIGKILL).
void launch_local_ranks(const std::vector<std::string>& args, const LaunchOptions& options);

// This process's arguments, argv[0] left out (from /proc/self/cmdline).
std::vector<std::string> own_arguments();

}  // namespace electra
