// Helpers shared by the libFuzzer targets: a scratch folder per process for parsers that read files, and the
// split of one input into its flag byte and parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace electra::fuzz {

// Separates the parts of one input (the files a target writes); listed in each target's dictionary.
inline constexpr std::string_view kPartSeparator = "\n@@@@\n";

// <tmp>/electra_fuzz.<pid>, created on first use; removed by atexit, which libFuzzer skips, so fuzz/run.sh points
// TMPDIR at a folder it removes itself.
const std::filesystem::path& scratch_dir();
// Writes `bytes` to scratch_dir() / name (replacing it) and returns the path.
std::filesystem::path write_scratch(const std::string& name, std::string_view bytes);
// Removes scratch_dir() / name when it exists.
void remove_scratch(const std::string& name);

// The input after its first byte, cut at kPartSeparator into at most `max_parts` parts (the last one keeps
// any further separators). `flags` is the first byte (0 for an empty input).
struct Input {
  uint8_t flags = 0;
  std::vector<std::string_view> parts;
};
Input split_input(const uint8_t* data, size_t size, size_t max_parts);

}  // namespace electra::fuzz
