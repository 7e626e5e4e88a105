// The memory this process may still use, and what it uses now (Linux: /proc and the cgroup file system). The
// memory preflight of a run (docs/memory.md) and `init` compare their estimates with memory_headroom().
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace electra {

// Bytes this process may still allocate, and the limit that decides it.
struct MemoryHeadroom {
  int64_t bytes = -1;  // -1: no limit found (no /proc: not Linux)
  std::string source;  // the smallest limit: "cgroup memory.max", "cgroup memory.limit_in_bytes", "RLIMIT_AS",
                       // "MemAvailable"
  std::string detail;  // how it was computed, e.g. "RLIMIT_AS 4.10 GB - 1.92 GB mapped"
};

// The smallest of: the cgroup limit (v2 memory.max, v1 memory.limit_in_bytes, of this process's cgroup and its
// parents) less the cgroup's usage without its reclaimable page cache; RLIMIT_AS less the address space already
// mapped (VmSize: LibTorch maps far more than it touches, thread stacks and arenas among it); MemAvailable of
// /proc/meminfo.
MemoryHeadroom memory_headroom();

// The cgroup part alone, read under `root` (the cgroup mounts, /sys/fs/cgroup) for the cgroup lines of
// /proc/self/cgroup in `proc_self_cgroup`; bytes -1 when no cgroup limits memory. For tests.
MemoryHeadroom cgroup_headroom(const std::filesystem::path& root, const std::string& proc_self_cgroup);

// A line of /proc/self/status in bytes ("VmRSS", "VmHWM", "VmSize"); -1 when unknown.
int64_t process_status_bytes(const std::string& key);

// "1.23 GB" / "456 MB" / "78 kB": bytes for a message.
std::string format_bytes(double bytes);

}  // namespace electra
