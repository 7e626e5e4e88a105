// The bridge from tasks and runs to metrics/bootstrap.h: a task's metrics in resampling form for its examples and
// predictions, and a run's test predictions found from its results.json (predictions_<split>.txt beside it, the gold
// files from its config.yaml's data.data_dir).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/bootstrap.h"
#include "tasks/task.h"

namespace electra {

// Every metric `task.score` reports (not "main"), one unit per example (NER: sentence; QA: question). The plain
// value of each must equal task.score's (checked; std::runtime_error otherwise): what is resampled is what is scored.
std::unique_ptr<metrics::ResampledMetrics> task_resampled_metrics(const Task& task, const std::vector<Example>& examples,
                                                                  const std::vector<std::optional<std::string>>& predictions);

struct RunPredictions {
  std::vector<std::filesystem::path> gold_files;  // the split's upstream files, in reading order
  std::string gold_digest;                        // of the gold files' bytes: same digest, same test examples
  std::filesystem::path predictions_file;
  std::unique_ptr<metrics::ResampledMetrics> metrics;
};

// The predictions of the run whose results.json is `results_file`, on `split`, against the gold files its
// config.yaml names. std::runtime_error naming the missing or inconsistent file (no predictions file, no config.yaml,
// a gold file that is gone, a count mismatch).
RunPredictions load_run_predictions(const Task& task, const std::filesystem::path& results_file, const std::string& split);

}  // namespace electra
