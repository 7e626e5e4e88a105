#include "common/folder_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <utility>

namespace electra {
namespace {

namespace fs = std::filesystem;

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string read_all(int fd) {
  std::string out;
  char buffer[512];
  off_t offset = 0;
  for (ssize_t n; (n = ::pread(fd, buffer, sizeof buffer, offset)) > 0 && out.size() < 4096; offset += n)
    out.append(buffer, static_cast<size_t>(n));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// True when `fd` is still the file at `path`: a holder that released the lock removes the file first, so a process
// that opened it just before must open the new one.
bool still_linked(int fd, const fs::path& path) {
  struct stat held {}, named {};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
         held.st_ino == named.st_ino;
}

}  // namespace

FolderLock FolderLock::acquire(const fs::path& dir, std::string_view command) {
  std::error_code ec;
  const bool existed = fs::is_directory(dir, ec);
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw std::runtime_error(fmt::format("cannot use {}: {}", dir.string(), ec ? ec.message() : "not a directory"));
  const fs::path file = dir / kFolderLockName;
  // A holder may remove the file between our open and our flock: then the lock we got is on a removed file, and we
  // try again on the new one. A handful of tries covers any real race.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      throw std::runtime_error(
          fmt::format("cannot lock {}: cannot create {}: {}", dir.string(), file.string(), std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string holder = read_all(fd);
      ::close(fd);
      if (err == EWOULDBLOCK)
        throw std::runtime_error(fmt::format(
            "{} is in use by {}; one run writes a folder at a time: wait for it to end, or choose another folder",
            dir.string(), holder.empty() ? std::string("another process") : holder));
      throw std::runtime_error(fmt::format("cannot lock {}: {}", file.string(), std::strerror(err)));
    }
    if (!still_linked(fd, file)) {
      ::close(fd);
      continue;
    }
    const std::string text =
        fmt::format("`electra {}`, pid {} on host {}, since {}\n", command, ::getpid(), host_name(), utc_now());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(fmt::format("cannot lock {}: cannot write {}: {}", dir.string(), file.string(),
                                           std::strerror(err)));
    }
    FolderLock lock;
    lock.fd_ = fd;
    lock.file_ = file;
    lock.created_ = !existed;
    return lock;
  }
  throw std::runtime_error(fmt::format("cannot lock {}: {} keeps being replaced by other processes", dir.string(),
                                       file.string()));
}

void FolderLock::release() noexcept {
  if (fd_ < 0) return;
  // Removed while still locked, so that no process can lock this file after us (still_linked sends it to a new one).
  if (still_linked(fd_, file_)) {
    ::unlink(file_.c_str());
    if (created_) ::rmdir(file_.parent_path().c_str());  // fails, harmlessly, unless the folder is empty
  }
  ::close(fd_);
  fd_ = -1;
}

FolderLock::~FolderLock() { release(); }

FolderLock::FolderLock(FolderLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), file_(std::move(other.file_)), created_(other.created_) {}

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    file_ = std::move(other.file_);
    created_ = other.created_;
  }
  return *this;
}

RunFolderLock::RunFolderLock(bool writes, const fs::path& resume, std::string_view command)
    : writes_(writes), command_(command) {
  if (writes_ && !resume.empty() && fs::is_directory(resume))
    lock_ = FolderLock::acquire(resume, command_ + " --resume");
}

void RunFolderLock::acquire(const fs::path& dir) {
  if (writes_ && !lock_.held()) lock_ = FolderLock::acquire(dir, command_);
}

std::string folder_lock_holder(const fs::path& dir) {
  const int fd = ::open((dir / kFolderLockName).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text = read_all(fd);
  ::close(fd);
  return text;
}

}  // namespace electra
