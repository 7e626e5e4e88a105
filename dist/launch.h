// `--nproc N` of `electra finetune` and `electra pretrain`: N local ranks of this very command line, started with
// torchrun's environment.
#pragma once

#include <string>
#include <vector>

namespace electra {

struct LaunchOptions {
  int nproc = 1;             // local ranks to start
  double timeout_s = 300;    // after a rank fails, how long the others get to end on their own
};

// Starts `options.nproc` copies of this executable (/proc/self/exe) with `args` (argv without argv[0]) and
// RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT (a free port) and, when unset,
// OMP_NUM_THREADS (the cores shared out) set; waits for all of them. Returns when every rank exited 0; throws
// std::runtime_error naming the first rank that failed and how (exit status or signal). Ranks still running
// `timeout_s` + 30 s after a failure are ended (SIGTERM, then SIGKILL).
void launch_local_ranks(const std::vector<std::string>& args, const LaunchOptions& options);

// A command's --nproc flag: with `nproc` > 1, in a process that --nproc did not start (a rank does not obey its
// own --nproc again), runs launch_local_ranks() on this process's arguments (/proc/self/cmdline) and returns true
// once every rank ended well: the command is done. Returns false when there is nothing to launch: the caller runs
// the command itself. Throws std::invalid_argument when the job already has ranks of its own (torchrun, srun).
bool launch_nproc(int nproc, double timeout_s);

}  // namespace electra
