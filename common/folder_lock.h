// One writer per folder: an advisory flock(2) on <dir>/.electra.lock, held for the life of the object and released
// by the kernel whenever the process ends (SIGKILL included), so a lock never goes stale (docs/reliability.md).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace electra {

// The lock file's name; folder checks ("is it empty?", "does it hold a model?") look past it.
inline constexpr std::string_view kFolderLockName = ".electra.lock";

class FolderLock {
 public:
  FolderLock() = default;  // holds nothing
  // Creates `dir` (and its parents) when missing and locks it for `command` ("finetune", "pretrain --prepare", ...).
  // Throws std::runtime_error at once, naming the folder and the holder's command, PID and host, when another process
  // holds it; std::runtime_error naming the folder when it cannot be created or the lock file cannot be made.
  // A folder this call created is removed again on release when the command left nothing in it.
  static FolderLock acquire(const std::filesystem::path& dir, std::string_view command);
  ~FolderLock();  // removes the lock file (and the folder it created, when empty), then releases the lock
  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  bool held() const { return fd_ >= 0; }

 private:
  void release() noexcept;
  int fd_ = -1;
  std::filesystem::path file_;
  bool created_ = false;
};

// The lock of a training run's folder (finetune, pretrain), taken in one of two moments: a resumed run's folder at
// construction, before its config.yaml is read; a new run's by acquire(), once its options name the folder. Only the
// process that writes the folder takes it (`writes`: rank 0, and not --dump-config).
class RunFolderLock {
 public:
  // `resume`: the --resume folder ("" for a new run); locked now, as "<command> --resume", when it is a folder.
  RunFolderLock(bool writes, const std::filesystem::path& resume, std::string_view command);
  // Locks `dir` for `command` unless a folder is already held or this process does not write.
  void acquire(const std::filesystem::path& dir);

 private:
  bool writes_;
  std::string command_;
  FolderLock lock_;
};

// What the lock file of `dir` says about its holder ("`electra finetune`, pid 1234 on host gpu-3, since
// 2026-12-07T20:31:02Z"), or "" when there is no lock file or it is empty. For messages; it proves nothing.
std::string folder_lock_holder(const std::filesystem::path& dir);

}  // namespace electra
