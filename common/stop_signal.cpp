#include "common/stop_signal.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

namespace electra {
namespace {

volatile sig_atomic_t g_signal = 0;
// The launcher's ranks, read by the handler (a fixed array: nothing in a handler may allocate).
constexpr size_t kMaxChildren = 1024;
pid_t g_children[kMaxChildren];
std::atomic<size_t> g_child_count{0};
std::atomic<bool> g_installed{false};

void write_stderr(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

void on_stop_signal(int sig) {
  if (g_signal != 0 && sig == SIGINT) {
    // Ctrl-C twice: stop now, as the default action would.
    write_stderr("\nelectra: second SIGINT: stopping at once (resume from the last saved state)\n");
    ::signal(SIGINT, SIG_DFL);
    for (size_t i = 0; i < g_child_count.load(); ++i) ::kill(g_children[i], SIGINT);
    ::raise(SIGINT);
    return;
  }
  if (g_signal == 0) {
    g_signal = sig;
    // Where it stops is said once it has (a training step with its state saved, or before anything is written).
    write_stderr(sig == SIGINT    ? "\nelectra: SIGINT: stopping cleanly (Ctrl-C again stops at once)\n"
                 : sig == SIGTERM ? "\nelectra: SIGTERM: stopping cleanly\n"
                                  : "\nelectra: SIGUSR1: stopping cleanly\n");
  }
  for (size_t i = 0; i < g_child_count.load(); ++i) ::kill(g_children[i], sig);
}

}  // namespace

void install_stop_handlers() {
  if (g_installed.exchange(true)) return;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int sig : {SIGTERM, SIGINT, SIGUSR1}) ::sigaction(sig, &action, nullptr);
}

int stop_signal() noexcept { return g_signal; }

std::string signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    default: return fmt::format("signal {}", signal);
  }
}

void forward_stop_signals_to(const std::vector<pid_t>& children) {
  const size_t n = std::min(children.size(), kMaxChildren);
  g_child_count.store(0);
  std::copy(children.begin(), children.begin() + static_cast<std::ptrdiff_t>(n), g_children);
  g_child_count.store(n);
  install_stop_handlers();
}

StoppedBySignal::StoppedBySignal(int signal, std::string line)
    : std::runtime_error(fmt::format("stopped by {}", signal_name(signal))), signal_(signal), line_(std::move(line)) {}

void stop_if_signalled(std::string_view doing, std::string_view then) {
  const int signal = stop_signal();
  if (signal == 0) return;
  throw StoppedBySignal(signal, fmt::format("stopped by {} while {}; {}", signal_name(signal), doing, then));
}

}  // namespace electra
