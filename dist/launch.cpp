#include "dist/launch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "common/stop_signal.h"
#include "dist/environment.h"

namespace electra {
namespace {

constexpr const char* kLaunchedVar = "ELECTRA_LOCAL_RANK_OF_NPROC";

std::string describe(int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

// True inside a rank that --nproc started.
bool launched_rank() {
  const char* v = std::getenv(kLaunchedVar);
  return v && *v;
}

// This process's arguments, argv[0] left out.
std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  size_t start = 0;
  while (start < all.size()) {
    const size_t end = all.find('\0', start);
    args.push_back(all.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!args.empty()) args.erase(args.begin());
  return args;
}

}  // namespace

void launch_local_ranks(const std::vector<std::string>& args, const LaunchOptions& options) {
  if (options.nproc < 1) throw std::invalid_argument(fmt::format("--nproc {}: must be at least 1", options.nproc));
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) throw std::runtime_error(fmt::format("cannot find this executable: {}", std::strerror(errno)));
  exe[n] = '\0';
  const int port = free_local_port();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string threads = std::to_string(std::max(1u, cores / static_cast<unsigned>(options.nproc)));

  std::vector<pid_t> pids;
  for (int rank = 0; rank < options.nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("cannot start rank {}: {}", rank, std::strerror(errno)));
    if (pid == 0) {
      // A process group of its own: Ctrl-C reaches the launcher alone, which passes it on once (a rank that got it
      // twice would take the second as "stop at once").
      ::setpgid(0, 0);
      const std::string r = std::to_string(rank), w = std::to_string(options.nproc), p = std::to_string(port);
      ::setenv("RANK", r.c_str(), 1);
      ::setenv("LOCAL_RANK", r.c_str(), 1);
      ::setenv("WORLD_SIZE", w.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", w.c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", p.c_str(), 1);
      ::setenv("OMP_NUM_THREADS", threads.c_str(), 0);
      ::setenv(kLaunchedVar, "1", 1);
      std::vector<char*> argv{exe};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(exe, argv.data());
      std::fprintf(stderr, "electra: cannot start rank %d (%s): %s\n", rank, exe, std::strerror(errno));
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  // A stop signal (Ctrl-C, a scheduler's SIGTERM) goes on to every rank; they agree on the step to stop after.
  forward_stop_signals_to(pids);

  // Waits for every rank; after the first failure the others get timeout + 30 s to end by themselves.
  std::string failure;
  auto deadline = std::chrono::steady_clock::time_point::max();
  size_t running = pids.size();
  bool terminated = false;
  bool stopped = false;  // a rank saved its state and stopped on a signal
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, failure.empty() ? 0 : WNOHANG);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pid == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        for (const pid_t p : pids) {
          if (p > 0) ::kill(p, terminated ? SIGKILL : SIGTERM);
        }
        deadline = now + std::chrono::seconds(5);
        terminated = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const auto it = std::find(pids.begin(), pids.end(), pid);
    if (it == pids.end()) continue;
    const int rank = static_cast<int>(it - pids.begin());
    *it = -1;
    --running;
    const bool stopped_rank = WIFEXITED(status) && WEXITSTATUS(status) == kStoppedExitCode;
    if (stopped_rank) stopped = true;
    const bool ok = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || stopped_rank);
    if (!ok && !failure.empty() && !terminated)  // a later failure: say it too (its own message, if any, is above)
      std::fprintf(stderr, "electra: then rank %d of %d (pid %d) %s\n", rank, options.nproc, static_cast<int>(pid),
                   describe(status).c_str());
    if (!ok && failure.empty()) {
      failure = fmt::format("rank {} of {} (pid {}) {}", rank, options.nproc, pid, describe(status));
      std::fprintf(stderr, "electra: %s; waiting at most %.0f s for the other ranks to stop\n", failure.c_str(),
                   options.timeout_s + 30);
      deadline = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(static_cast<int64_t>((options.timeout_s + 30) * 1000));
    }
  }
  forward_stop_signals_to({});
  if (!failure.empty()) {
    throw std::runtime_error(fmt::format("{}{}", failure,
                                         terminated ? "; the ranks still running after it were ended" : ""));
  }
  if (stopped) throw StoppedBySignal(stop_signal() != 0 ? stop_signal() : SIGTERM);
}

bool launch_nproc(int nproc, double timeout_s) {
  if (nproc <= 1 || launched_rank()) return false;
  if (read_dist_env().distributed()) {
    throw std::invalid_argument("--nproc starts its own ranks: do not combine it with torchrun or srun");
  }
  LaunchOptions launch;
  launch.nproc = nproc;
  launch.timeout_s = timeout_s;
  launch_local_ranks(own_arguments(), launch);
  return true;
}

}  // namespace electra
