// File helpers shared by every part: whole-file reads with clear errors, the one crash-safe writer, fsync of files and
// folders, the checks a run makes before writing (writable folder, free space), and tree walks on POSIX calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace electra {

// Reads a whole file; throws std::runtime_error("cannot read <file>: <reason>").
std::string read_file(const std::filesystem::path& file);

// Writes `content` to `file` atomically and durably (docs/reliability.md): to <file>.tmp.<pid> beside it (its folder
// created if missing), fsynced, renamed over `file`, then the folder fsynced; so a reader never sees a half-written
// file, and after a SIGKILL or a power cut `file` holds either its old or its new content. Throws std::runtime_error
// naming `file` and the reason ("cannot write <file> (<n> bytes): <reason>": disk full, file too large, permission
// denied; "cannot write <file>: it is a directory; give a file name"); the temporary file is removed and `file` keeps
// its old content. `crash_point_prefix`, when not empty, names the crash points of this write (common/crash_point.h):
// <prefix>.partial (half the bytes of the temporary file written) and <prefix>.renamed (renamed, folder not synced).
void write_file_atomic(const std::filesystem::path& file, std::string_view content,
                       std::string_view crash_point_prefix = {});
// fsyncs a file, so that what was written to it is on disk. Throws std::runtime_error("cannot sync <file> to disk:
// <reason>").
void sync_file(const std::filesystem::path& file);
// fsyncs a folder (empty: the current one), so that the renames and removals in it are on disk. Throws
// std::runtime_error naming it; a file system that cannot fsync a folder (EINVAL) is not an error.
void sync_directory(const std::filesystem::path& dir);
// sync_directory that reports failure by returning false instead of throwing (best-effort syncs).
bool sync_directory_noexcept(const std::filesystem::path& dir) noexcept;

// Bytes free for an unprivileged writer on the file system that holds `dir` (statvfs f_bavail). Throws
// std::runtime_error naming `dir` when it cannot be queried.
uint64_t available_bytes(const std::filesystem::path& dir);
// Throws std::runtime_error before training when `dir` cannot hold `needed` more bytes; `what` says what they are
// for ("a training state (...) and the best model (...)").
void check_free_space(const std::filesystem::path& dir, uint64_t needed, std::string_view what);
// Throws std::runtime_error when no file can be created in `dir` (read-only file system, no permission), naming it.
void check_writable(const std::filesystem::path& dir);

// Directory walking and removal, written on POSIX calls rather than std::filesystem's: PyTorch wheels (2.5 and
// later) export their own copies of std::filesystem's directory iterators and remove_all from libtorch_cpu.so
// (pytorch/pytorch#133437), and a program linked with such a LibTorch can end up calling them; remove_all crashed
// that way with LibTorch 2.11.

// Removes `path` and everything below it (symbolic links are removed, not followed); a missing path is not an
// error. Throws std::runtime_error naming the entry that could not be removed.
void remove_tree(const std::filesystem::path& path);
// remove_tree that reports failure by returning false instead of throwing (for clean-up paths).
bool remove_tree_noexcept(const std::filesystem::path& path) noexcept;
// Every regular file below `root`, and every link to one (links to directories are not followed), sorted.
// Throws std::runtime_error naming an unreadable directory.
std::vector<std::filesystem::path> list_files_recursive(const std::filesystem::path& root);
// The entries of one directory (no "." or ".."), sorted; empty when `dir` cannot be opened.
std::vector<std::filesystem::path> list_directory(const std::filesystem::path& dir);

}  // namespace electra
