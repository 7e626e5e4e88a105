// Small file helpers shared by every part: whole-file reads with clear errors, atomic writes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace electra {

// Reads a whole file; throws std::runtime_error("cannot read <file>: <reason>").
std::string read_file(const std::filesystem::path& file);
// Writes to <file>.tmp.<pid> in the same directory, flushes, then renames over `file`, so a reader never
// sees a half-written file. Throws std::runtime_error naming the file (disk full included).
void write_file_atomic(const std::filesystem::path& file, std::string_view content);

}  // namespace electra
