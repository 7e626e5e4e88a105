// A clean stop on SIGTERM, SIGINT and SIGUSR1 (docs/stopping.md): the first such signal sets a flag that the training
// loops read after every optimizer step; they save a complete state there and the command exits with
// kStoppedExitCode, so that rerunning the same command resumes. A second SIGINT (Ctrl-C twice) ends the process at
// once; every file is written crash-safely, so that loses at most the steps since the last state.
#pragma once

#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace electra {

// EX_TEMPFAIL of sysexits.h: "try again". A job script requeues on it (`--emit slurm` does).
inline constexpr int kStoppedExitCode = 75;

// Installs the handlers (once; later calls do nothing).
void install_stop_handlers();
// The signal that asked for a stop, 0 when none did.
int stop_signal() noexcept;
// "SIGTERM", "SIGINT", "SIGUSR1" (else "signal N").
std::string signal_name(int signal);
// The `--nproc` launcher: a stop signal it receives is passed on to these processes (its ranks).
void forward_stop_signals_to(const std::vector<pid_t>& children);

// Thrown once a run has stopped on a signal, its state saved and the line saying so printed; main() exits with
// kStoppedExitCode.
class StoppedBySignal : public std::runtime_error {
 public:
  explicit StoppedBySignal(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

}  // namespace electra
