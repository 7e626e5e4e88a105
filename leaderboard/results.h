// results.json: the one interface between fine-tuning runs and leaderboards. A run (or `electra eval --model`)
// writes one; the leaderboard reads them. The schema is documented in docs/results.md; the reader
// rejects a malformed file with the file and the key in the message (std::runtime_error).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace electra {

// Metrics of one split, each x100 where the metric is a ratio; always holds "main".
using SplitMetrics = std::map<std::string, double>;

// One run: one task, one model, one seed.
struct RunResult {
  std::filesystem::path file;          // where it was read from (empty when built in memory)
  std::string task;                    // canonical task name, e.g. "nsmc", "naver-ner", "sst2"
  std::string model;                   // what was fine-tuned: hub id, directory or name
  std::string model_name;              // optional display name; the leaderboard groups rows by display_name()
  std::optional<int64_t> params;       // encoder parameters (without the task head), when known
  int64_t seed = 0;
  std::string split;                   // "dev" or "test": the split `metrics` were scored on
  SplitMetrics metrics;                // metrics of `split`, including "main"
  std::string main_metric;             // key of `metrics` that "main" repeats (the table column's metric)
  std::map<std::string, SplitMetrics> split_metrics;  // optional: metrics of every split scored, by split
  std::optional<int64_t> steps;        // optimizer steps taken
  std::optional<double> wall_time_s;   // wall time of the run
  std::map<std::string, double> throughput;        // e.g. {"train_examples_per_s": 512.3}
  std::map<std::string, std::string> versions;     // e.g. {"electra": "0.1.0", "libtorch": "1.13.1"}

  const std::string& display_name() const { return model_name.empty() ? model : model_name; }
  // Metrics scored on `split_name`, or nullptr when the run did not score that split.
  const SplitMetrics* metrics_for(const std::string& split_name) const;
};

inline constexpr int kResultsSchemaVersion = 1;

// Parses the text of a results.json: one run object, or {"runs": [run, ...]} (several seeds in one file).
// `file` names the source in error messages: "<file>: key 'runs[1].metrics.main': expected a number, got null".
std::vector<RunResult> parse_results(const std::string& text, const std::filesystem::path& file);
std::vector<RunResult> read_results_file(const std::filesystem::path& file);
// Every results.json under each path (a results.json file itself, or a directory searched recursively, in
// sorted path order). Throws std::runtime_error when a path does not exist or holds no results.json at all.
std::vector<RunResult> collect_results(const std::vector<std::filesystem::path>& paths);

// The JSON text of one run (pretty-printed, keys in schema order), as the trainer writes it.
std::string results_to_json(const RunResult& run);
// {"runs": [...]} for several seeds in one file.
std::string results_to_json(const std::vector<RunResult>& runs);
void write_results_file(const std::filesystem::path& file, const RunResult& run);

}  // namespace electra
