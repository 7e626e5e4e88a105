#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "common/crash_point.h"

namespace electra {

namespace fs = std::filesystem;

namespace {

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

std::string read_file(const std::filesystem::path& file) {
  // What is there is checked before opening: a directory would read as garbage, and opening a FIFO blocks for ever.
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot read {}: {}", file.string(), ec.message()));
  if (std::filesystem::is_directory(status))
    throw std::runtime_error(fmt::format("cannot read {}: it is a directory, not a file", file.string()));
  if (!std::filesystem::is_regular_file(status))
    throw std::runtime_error(
        fmt::format("cannot read {}: not a regular file (a FIFO, socket or device); give a file", file.string()));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
  std::string content;
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) throw std::runtime_error(fmt::format("cannot read {}: not a regular file", file.string()));
  content.resize(static_cast<size_t>(size));
  in.seekg(0);
  in.read(content.data(), size);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}: read failed", file.string()));
  return content;
}

void write_file_atomic(const fs::path& file, std::string_view content, std::string_view crash_point_prefix) {
  std::error_code ec;
  if (fs::is_directory(file, ec))
    throw std::runtime_error(fmt::format("cannot write {}: it is a directory; give a file name", file.string()));
  const fs::path dir = file.parent_path();
  if (!dir.empty()) {
    fs::create_directories(dir, ec);
    if (ec)
      throw std::runtime_error(
          fmt::format("cannot write {}: cannot create {}: {}", file.string(), dir.string(), ec.message()));
  }
  const fs::path tmp = file.string() + fmt::format(".tmp.{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
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
    throw std::runtime_error(
        fmt::format("cannot write {} ({} bytes): {}", file.string(), content.size(), std::strerror(err)));
  }
  if (crash_points) crash_point(std::string(crash_point_prefix) + ".renamed");
  // The rename itself is durable only once the folder's entry is on disk.
  sync_directory(dir);
}

void sync_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot sync {} to disk: {}", file.string(), std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot sync {} to disk: {}", file.string(), std::strerror(err)));
}

void sync_directory(const fs::path& dir) {
  const fs::path d = dir.empty() ? fs::path(".") : dir;
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot sync folder {}: {}", d.string(), std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL); their renames are as durable as they get.
  if (rc != 0 && err != EINVAL)
    throw std::runtime_error(fmt::format("cannot sync folder {}: {}", d.string(), std::strerror(err)));
}

bool sync_directory_noexcept(const fs::path& dir) noexcept {
  try {
    sync_directory(dir);
    return true;
  } catch (...) {
    return false;
  }
}

uint64_t available_bytes(const fs::path& dir) {
  struct statvfs s;
  if (::statvfs(dir.c_str(), &s) != 0)
    throw std::runtime_error(fmt::format("cannot query free space of {}: {}", dir.string(), std::strerror(errno)));
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
                                         dir.string(), std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

namespace {

// nftw has no user pointer: the walk's state is thread-local.
thread_local std::string walk_error;
thread_local std::vector<std::filesystem::path>* walk_files = nullptr;

int remove_entry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DNR || type == FTW_NS) {
    walk_error = fmt::format("cannot remove {}: cannot read it", path);
    return 1;
  }
  if (std::remove(path) != 0) {
    walk_error = fmt::format("cannot remove {}: {}", path, std::strerror(errno));
    return 1;
  }
  return 0;
}

int collect_entry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DNR) {
    walk_error = fmt::format("cannot list {}: permission denied", path);
    return 1;
  }
  struct stat target;
  if (type == FTW_F || (type == FTW_SL && ::stat(path, &target) == 0 && S_ISREG(target.st_mode))) {
    walk_files->emplace_back(path);
  }
  return 0;
}

}  // namespace

void remove_tree(const std::filesystem::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw std::runtime_error(fmt::format("cannot remove {}: {}", path.string(), std::strerror(errno)));
  }
  walk_error.clear();
  const int rc = ::nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) {
    throw std::runtime_error(walk_error.empty() ? fmt::format("cannot remove {}: {}", path.string(), std::strerror(errno))
                                                : walk_error);
  }
}

bool remove_tree_noexcept(const std::filesystem::path& path) noexcept {
  try {
    remove_tree(path);
    return true;
  } catch (...) {
    return false;
  }
}

std::vector<std::filesystem::path> list_files_recursive(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> files;
  walk_error.clear();
  walk_files = &files;
  const int rc = ::nftw(root.c_str(), collect_entry, 32, FTW_PHYS);
  walk_files = nullptr;
  if (rc != 0) {
    throw std::runtime_error(walk_error.empty() ? fmt::format("cannot list {}: {}", root.string(), std::strerror(errno))
                                                : walk_error);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::filesystem::path> list_directory(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> entries;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return entries;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") entries.push_back(dir / std::string(name));
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end());
  return entries;
}

}  // namespace electra
