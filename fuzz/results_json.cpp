// results.json for the leaderboard: parse_results (one run or {"runs": [...]}), and the round trip through
// results_to_json (a run that was accepted must be written back into one that reads the same).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "leaderboard/results.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<electra::RunResult> runs;
  try {
    runs = electra::parse_results(text, "results.json");
  } catch (const std::exception&) {
    return 0;
  }
  const std::string written = electra::results_to_json(runs);
  try {
    if (electra::results_to_json(electra::parse_results(written, "written results.json")) != written) {
      std::fprintf(stderr, "results.json round trip changed the runs:\n%s\n", written.c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "accepted runs were written back unreadable: %s\n%s\n", e.what(), written.c_str());
    std::abort();
  }
  return 0;
}
