#include "common/memory_limit.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace electra {
namespace {

namespace fs = std::filesystem;

// Beyond this a cgroup v1 limit means "none" (the kernel writes 2^63 - 4096 for an unlimited group).
constexpr int64_t kNoLimit = int64_t{1} << 60;

// The first number of a file ("max" and a missing or unreadable file: -1).
int64_t read_number(const fs::path& file) {
  std::ifstream in(file);
  std::string word;
  if (!(in >> word)) return -1;
  try {
    size_t used = 0;
    const long long v = std::stoll(word, &used);
    return used == word.size() && v >= 0 ? static_cast<int64_t>(v) : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

// `key`'s value in a "key value" file (memory.stat), 0 when absent.
int64_t stat_value(const fs::path& file, const std::string& key) {
  std::ifstream in(file);
  std::string k;
  int64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

void keep_smaller(MemoryHeadroom& best, int64_t bytes, const std::string& source, const std::string& detail) {
  if (bytes < 0) return;
  if (best.bytes < 0 || bytes < best.bytes) best = {bytes, source, detail};
}

// One cgroup folder and its parents up to `mount`: the tightest of their limit less usage.
void walk_cgroup(MemoryHeadroom& best, const fs::path& mount, const std::string& path, bool v2) {
  fs::path dir = mount / fs::path(path).relative_path();
  // Inside a container the mount is often the group itself while /proc/self/cgroup names the host's path.
  if (!fs::is_directory(dir)) dir = mount;
  const char* limit_file = v2 ? "memory.max" : "memory.limit_in_bytes";
  const char* usage_file = v2 ? "memory.current" : "memory.usage_in_bytes";
  const char* cache_key = v2 ? "inactive_file" : "total_inactive_file";
  for (fs::path d = dir;; d = d.parent_path()) {
    const int64_t limit = read_number(d / limit_file);
    if (limit >= 0 && limit < kNoLimit) {
      // Usage counts page cache the kernel reclaims before it kills anything: leave out its inactive part.
      const int64_t usage = std::max<int64_t>(0, read_number(d / usage_file) - stat_value(d / "memory.stat", cache_key));
      keep_smaller(best, std::max<int64_t>(0, limit - usage), fmt::format("cgroup {}", limit_file),
                   fmt::format("cgroup {} {} - {} in use ({})", limit_file, format_bytes(static_cast<double>(limit)),
                               format_bytes(static_cast<double>(usage)), d.string()));
    }
    if (d == mount || d.parent_path() == d || d.string().size() <= mount.string().size()) break;
  }
}

}  // namespace

MemoryHeadroom cgroup_headroom(const fs::path& root, const std::string& proc_self_cgroup) {
  MemoryHeadroom best;
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // "0::/path" (v2), "4:memory:/path" (v1)
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (line.compare(0, first, "0") == 0 && controllers.empty()) {
      if (fs::exists(root / "memory.max") || fs::exists(root / fs::path(path).relative_path() / "memory.max"))
        walk_cgroup(best, root, path, true);
    } else {
      std::istringstream names(controllers);
      for (std::string name; std::getline(names, name, ',');)
        if (name == "memory") walk_cgroup(best, root / "memory", path, false);
    }
  }
  return best;
}

int64_t process_status_bytes(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string k, unit;
  for (std::string line; std::getline(status, line);) {
    std::istringstream in(line);
    int64_t kib = 0;
    if (in >> k >> kib >> unit && k == key + ":") return kib * 1024;
  }
  return -1;
}

MemoryHeadroom memory_headroom() {
  std::ifstream cgroup_file("/proc/self/cgroup");
  std::stringstream cgroup_text;
  cgroup_text << cgroup_file.rdbuf();
  MemoryHeadroom best = cgroup_headroom("/sys/fs/cgroup", cgroup_text.str());

  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const auto cap = static_cast<int64_t>(std::min<rlim_t>(as.rlim_cur, static_cast<rlim_t>(kNoLimit)));
    const int64_t mapped = std::max<int64_t>(0, process_status_bytes("VmSize"));
    keep_smaller(best, std::max<int64_t>(0, cap - mapped), "RLIMIT_AS",
                 fmt::format("RLIMIT_AS {} - {} mapped", format_bytes(static_cast<double>(cap)),
                             format_bytes(static_cast<double>(mapped))));
  }

  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  int64_t kib = 0;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") {
      keep_smaller(best, kib * 1024, "MemAvailable", "MemAvailable of /proc/meminfo");
      break;
    }
  }
  return best;
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e15) return fmt::format("{:.3g} TB", bytes / 1e12);
  if (bytes >= 1e12) return fmt::format("{:.2f} TB", bytes / 1e12);
  if (bytes >= 1e9) return fmt::format("{:.2f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.0f} MB", bytes / 1e6);
  return fmt::format("{:.0f} kB", bytes / 1e3);
}

}  // namespace electra
