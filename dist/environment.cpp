#include "dist/environment.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace electra {
namespace {

int int_var(const std::function<const char*(const char*)>& getenv, const char* name, int fallback, int min) {
  const char* v = getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > 1 << 30) {
    throw std::invalid_argument(fmt::format("environment variable {}={}: expected an integer >= {}", name, v, min));
  }
  return static_cast<int>(value);
}

std::string str_var(const std::function<const char*(const char*)>& getenv, const char* name, std::string fallback) {
  const char* v = getenv(name);
  return v && *v ? std::string(v) : fallback;
}

void check(const DistEnv& env) {
  if (env.rank >= env.world_size) {
    throw std::invalid_argument(fmt::format("{}: rank {} is not below the world size {}", env.launcher, env.rank,
                                            env.world_size));
  }
  if (env.local_rank >= env.local_world_size) {
    throw std::invalid_argument(fmt::format("{}: local rank {} is not below the local world size {}", env.launcher,
                                            env.local_rank, env.local_world_size));
  }
  if (env.master_port < 1 || env.master_port > 65535) {
    throw std::invalid_argument(fmt::format("{}: master port {} is not a TCP port", env.launcher, env.master_port));
  }
}

}  // namespace

DistEnv read_dist_env(const std::function<const char*(const char*)>& getenv_in) {
  const std::function<const char*(const char*)> getenv =
      getenv_in ? getenv_in : [](const char* name) -> const char* { return std::getenv(name); };
  DistEnv env;
  if (getenv("WORLD_SIZE") && *getenv("WORLD_SIZE")) {
    env.launcher = "torchrun";
    env.world_size = int_var(getenv, "WORLD_SIZE", 1, 1);
    env.rank = int_var(getenv, "RANK", 0, 0);
    env.local_rank = int_var(getenv, "LOCAL_RANK", env.rank, 0);
    env.local_world_size = int_var(getenv, "LOCAL_WORLD_SIZE", env.world_size, 1);
    env.master_addr = str_var(getenv, "MASTER_ADDR", "127.0.0.1");
    env.master_port = int_var(getenv, "MASTER_PORT", 29500, 1);
    const std::string agent = str_var(getenv, "TORCHELASTIC_USE_AGENT_STORE", "");
    env.agent_store = agent == "True" || agent == "true" || agent == "1";
    if (env.world_size > 1 && !getenv("RANK")) {
      throw std::invalid_argument(fmt::format("WORLD_SIZE={} is set but RANK is not", env.world_size));
    }
  } else if (getenv("SLURM_NTASKS") && int_var(getenv, "SLURM_NTASKS", 1, 1) > 1 && getenv("SLURM_PROCID")) {
    env.launcher = "slurm";
    env.world_size = int_var(getenv, "SLURM_NTASKS", 1, 1);
    env.rank = int_var(getenv, "SLURM_PROCID", 0, 0);
    env.local_rank = int_var(getenv, "SLURM_LOCALID", 0, 0);
    // SLURM_NTASKS_PER_NODE may read "4(x2)"; the leading count is this layout's local world size.
    const std::string per_node = str_var(getenv, "SLURM_NTASKS_PER_NODE", "");
    env.local_world_size = per_node.empty() ? env.world_size : std::max(1, std::atoi(per_node.c_str()));
    if (env.local_rank >= env.local_world_size) env.local_world_size = env.local_rank + 1;
    const std::string nodes = str_var(getenv, "SLURM_JOB_NODELIST", str_var(getenv, "SLURM_NODELIST", ""));
    const auto hosts = expand_nodelist(nodes);
    env.master_addr = str_var(getenv, "MASTER_ADDR", hosts.empty() ? "127.0.0.1" : hosts.front());
    // One port per job, so that jobs sharing a node do not collide (MASTER_PORT overrides it).
    const int job = int_var(getenv, "SLURM_JOB_ID", 0, 0);
    env.master_port = int_var(getenv, "MASTER_PORT", 20000 + job % 20000, 1);
  }
  check(env);
  return env;
}

std::vector<std::string> expand_nodelist(const std::string& nodelist) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < nodelist.size()) {
    // One entry: a prefix, then optionally [ranges], up to the next top-level comma.
    size_t j = i;
    while (j < nodelist.size() && nodelist[j] != ',' && nodelist[j] != '[') ++j;
    const std::string prefix = nodelist.substr(i, j - i);
    if (j < nodelist.size() && nodelist[j] == '[') {
      const size_t first = out.size();
      const size_t close = nodelist.find(']', j);
      if (close == std::string::npos) {
        throw std::invalid_argument(fmt::format("host list '{}': '[' without ']'", nodelist));
      }
      const std::string ranges = nodelist.substr(j + 1, close - j - 1);
      size_t k = 0;
      while (k <= ranges.size()) {
        size_t comma = ranges.find(',', k);
        if (comma == std::string::npos) comma = ranges.size();
        const std::string range = ranges.substr(k, comma - k);
        const size_t dash = range.find('-');
        const std::string lo = range.substr(0, dash);
        const std::string hi = dash == std::string::npos ? lo : range.substr(dash + 1);
        if (lo.empty() || hi.empty() || lo.find_first_not_of("0123456789") != std::string::npos ||
            hi.find_first_not_of("0123456789") != std::string::npos) {
          throw std::invalid_argument(fmt::format("host list '{}': bad range '{}'", nodelist, range));
        }
        const long a = std::stol(lo), b = std::stol(hi);
        for (long n = a; n <= b; ++n) {
          std::string digits = std::to_string(n);
          if (digits.size() < lo.size()) digits.insert(0, lo.size() - digits.size(), '0');  // keeps "01"
          out.push_back(prefix + digits);
        }
        k = comma + 1;
      }
      j = close + 1;
      // A suffix after the brackets ("n[1-2]-ib") applies to each name of the entry.
      size_t end = j;
      while (end < nodelist.size() && nodelist[end] != ',') ++end;
      const std::string suffix = nodelist.substr(j, end - j);
      if (!suffix.empty()) {
        if (suffix.find('[') != std::string::npos) {
          throw std::invalid_argument(fmt::format("host list '{}': more than one [...] in a name", nodelist));
        }
        for (size_t h = first; h < out.size(); ++h) out[h] += suffix;
      }
      j = end;
    } else if (!prefix.empty()) {
      out.push_back(prefix);
    }
    i = j + 1;
  }
  return out;
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open a socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot find a free port on 127.0.0.1: {}", std::strerror(err)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<size_t> share_of(size_t count, int index, int shares) {
  if (shares < 1 || index < 0 || index >= shares) {
    throw std::invalid_argument(fmt::format("shard {}/{}: expected 0 <= I < N", index, shares));
  }
  std::vector<size_t> out;
  for (size_t i = static_cast<size_t>(index); i < count; i += static_cast<size_t>(shares)) out.push_back(i);
  return out;
}

std::pair<int, int> parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  const auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument(fmt::format("--shard {}: expected I/N with 0 <= I < N", text));
    }
    return std::stoi(s);
  };
  if (slash == std::string::npos) throw std::invalid_argument(fmt::format("--shard {}: expected I/N", text));
  const int i = number(text.substr(0, slash));
  const int n = number(text.substr(slash + 1));
  if (n < 1 || i >= n) throw std::invalid_argument(fmt::format("--shard {}: expected I/N with 0 <= I < N", text));
  return {i, n};
}

}  // namespace electra
