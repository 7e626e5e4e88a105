// A clean stop on SIGTERM, SIGINT and SIGUSR1 (docs/stopping.md): the first such signal sets a flag that the training
// loops read after every optimizer step; they save a complete state there and the command exits with
// kStoppedExitCode, so that rerunning the same command resumes. A second SIGINT (Ctrl-C twice) ends the process at
// once; every file is written crash-safely, so that loses at most the steps since the last state.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
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
// kStoppedExitCode. Work that saves nothing (reading and tokenizing data, preparing a corpus, an evaluation) throws it
// where it is with `line`, which main() prints ("stopped by SIGTERM while ...; rerun the same command ...").
class StoppedBySignal : public std::runtime_error {
 public:
  explicit StoppedBySignal(int signal, std::string line = "");
  int signal() const { return signal_; }
  const std::string& line() const { return line_; }

 private:
  int signal_;
  std::string line_;
};

// Throws StoppedBySignal with the line "stopped by <signal> while <doing>; <then>" when a stop signal has arrived;
// otherwise returns at the cost of reading one flag. For loops over data that a rerun redoes from their start.
void stop_if_signalled(std::string_view doing, std::string_view then);
// `then` for data preparation: it saves nothing, so the files of a run (its last state included) are as they were.
inline constexpr std::string_view kRerunUnchanged = "the saved files are as they were; rerun the same command";

}  // namespace electra
