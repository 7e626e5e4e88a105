// Small file helpers shared by every part: whole-file reads with clear errors, atomic writes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace electra {

// Reads a whole file; throws std::runtime_error("cannot read <file>: <reason>").
std::string read_file(const std::filesystem::path& file);
// Writes to <file>.tmp.<pid> in the same directory, flushes, then renames over `file`, so a reader never
// sees a half-written file. Throws std::runtime_error naming the file (disk full included).
void write_file_atomic(const std::filesystem::path& file, std::string_view content);

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
