#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace electra {

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

void write_file_atomic(const std::filesystem::path& file, std::string_view content) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw std::runtime_error(fmt::format("cannot write {}: it is a directory; give a file name", file.string()));
  const std::filesystem::path parent = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(parent, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot write {}: cannot create {}: {}", file.string(), parent.string(), ec.message()));
  const std::filesystem::path tmp = file.string() + fmt::format(".tmp.{}", ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size() && std::fflush(f) == 0 &&
                  ::fsync(::fileno(f)) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !ok) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(ok ? errno : err)));
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw std::runtime_error(fmt::format("cannot write {}: {}", file.string(), ec.message()));
  }
  // The rename itself is durable only once the folder's entry is on disk.
  if (const int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
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
