#include "common/durable_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace electra {
namespace {

namespace fs = std::filesystem;

std::string error_text(int err) { return std::strerror(err); }

// Writes all of `data` to `fd`; false (errno set) on a short write that cannot go on (ENOSPC, EFBIG, EIO).
bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string human_bytes(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1 << 30));
  if (bytes >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
}

}  // namespace

void sync_directory(const fs::path& dir) {
  const fs::path d = dir.empty() ? fs::path(".") : dir;
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot sync folder {}: {}", d.string(), error_text(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL); their renames are as durable as they get.
  if (rc != 0 && err != EINVAL) {
    throw std::runtime_error(fmt::format("cannot sync folder {}: {}", d.string(), error_text(err)));
  }
}

void write_file_durable(const fs::path& file, std::string_view content, std::string_view crash_point_prefix) {
  const fs::path dir = file.parent_path();
  if (!dir.empty()) fs::create_directories(dir);
  const fs::path tmp = file.string() + fmt::format(".tmp.{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write {}: {}", file.string(), error_text(errno)));
  const bool crash_points = !crash_point_prefix.empty();
  const size_t half = content.size() / 2;
  bool ok = write_all(fd, content.data(), half);
  if (ok && crash_points) crash_point(std::string(crash_point_prefix) + ".partial");
  ok = ok && write_all(fd, content.data() + half, content.size() - half) && ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(tmp.c_str(), file.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("cannot write {} ({} bytes): {}", file.string(), content.size(),
                                         error_text(err)));
  }
  if (crash_points) crash_point(std::string(crash_point_prefix) + ".renamed");
  sync_directory(dir);
}

uint64_t available_bytes(const fs::path& dir) {
  struct statvfs s;
  if (::statvfs(dir.c_str(), &s) != 0) {
    throw std::runtime_error(fmt::format("cannot query free space of {}: {}", dir.string(), error_text(errno)));
  }
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

void check_free_space(const fs::path& dir, uint64_t needed, std::string_view what) {
  const uint64_t free = available_bytes(dir);
  if (free < needed) {
    throw std::runtime_error(fmt::format("{}: {} free, but this run needs about {} for {}; free space there or choose "
                                         "another output_dir (--output-dir)",
                                         dir.string(), human_bytes(free), human_bytes(needed), what));
  }
}

void check_writable(const fs::path& dir) {
  const fs::path probe = dir / fmt::format(".electra-write-test.{}", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("output folder {} is not writable: {}; choose another output_dir "
                                         "(--output-dir)",
                                         dir.string(), error_text(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

void crash_point(std::string_view point) {
  static const std::string spec = [] {
    const char* v = std::getenv("ELECTRA_CRASH_AT");
    return std::string(v ? v : "");
  }();
  if (spec.empty()) return;
  static int64_t seen = 0;
  const size_t colon = spec.rfind(':');
  const std::string_view name = std::string_view(spec).substr(0, colon);
  if (name != point) return;
  const int64_t nth = colon == std::string::npos ? 1 : std::atoll(spec.c_str() + colon + 1);
  if (++seen < nth) return;
  std::fprintf(stderr, "electra: crash point %s reached (ELECTRA_CRASH_AT): SIGKILL\n", spec.c_str());
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace electra
