// Writes that survive a crash (docs/reliability.md): content goes to a temporary file beside the target, is
// fsynced, renamed over the target, and the directory is fsynced, so after a SIGKILL or a power cut the target holds
// either its old or its new content, never part of one. Plus the checks a run makes before training (writable
// folder, free space) and the test-only crash points.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace electra {

// Writes `content` to `file` durably as above. Throws std::runtime_error naming `file` and the reason (disk full,
// file too large, permission denied); the temporary file is removed and `file` keeps its old content.
// `crash_point_prefix`, when not empty, names the crash points of this write: <prefix>.partial (half the bytes of the
// temporary file written) and <prefix>.renamed (renamed, the directory not yet synced).
void write_file_durable(const std::filesystem::path& file, std::string_view content,
                        std::string_view crash_point_prefix = {});
// fsyncs a directory, so that the renames and removals in it are on disk. Throws std::runtime_error naming it.
void sync_directory(const std::filesystem::path& dir);

// Bytes free for an unprivileged writer on the file system that holds `dir` (statvfs f_bavail).
uint64_t available_bytes(const std::filesystem::path& dir);
// Throws std::runtime_error before training when `dir` cannot hold `needed` more bytes; `what` says what they are
// for ("a training state (...) and the best model (...)").
void check_free_space(const std::filesystem::path& dir, uint64_t needed, std::string_view what);
// Throws std::runtime_error when no file can be created in `dir` (read-only file system, no permission), naming it.
void check_writable(const std::filesystem::path& dir);

// Test-only fault injection. With ELECTRA_CRASH_AT=<point>[:<n>] in the environment, the process kills itself with
// SIGKILL the n-th time (default: the first) it reaches `point`; without it, nothing happens. The points are listed in
// docs/reliability.md.
void crash_point(std::string_view point);

}  // namespace electra
