// Fine-tuning runs: task data → features → batches → AdamW steps, dev evaluation and best-model selection,
// resumable training state, and the run directory (config.yaml, metrics.jsonl, best/, predictions, results.json).
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "model/electra.h"
#include "tasks/task.h"
#include "train/options.h"

namespace electra {

// The examples of a run. `dev` is what selection uses (the task's dev split, or a carve-out of train).
struct TaskData {
  std::vector<Example> train, dev, test;
  std::optional<std::vector<Example>> task_dev;  // the task's own dev split when dev was carved from train
  bool has_dev = false, has_test = false;
  std::string dev_source;  // "dev", "train (10% carved, seed 20231)", or "none: <task> has no dev split"
  std::vector<std::string> warnings;
};

// Reads the task's upstream files from `data.data_dir`; throws std::runtime_error naming a missing file.
TaskData load_task_data(const Task& task, const DatasetOptions& data);

struct EvalOptions {
  int64_t batch_size = 64;
  int64_t bucket_multiple = 32;
  int64_t max_seq_length = 128;
  bool bf16 = false;
  DecodeOptions decode;
};

struct EvalResult {
  Metrics metrics;                       // holds "main"
  std::vector<std::string> predictions;  // one per example, `electra score` format
  double seconds = 0;
};

// Runs the model (eval mode, no grad) over the features and scores the decoded predictions.
EvalResult evaluate(const ElectraModel& model, const Task& task, const std::vector<Example>& examples,
                    const std::vector<Feature>& features, const EvalOptions& options);

// Architecture + labels a task needs from a checkpoint.
LoadOptions load_options_for(const Task& task);

// Writes one prediction per line (the format `electra score` reads).
void write_predictions(const std::filesystem::path& file, const std::vector<std::string>& predictions);

struct RunControl {
  std::filesystem::path model_dir;  // resolved local checkpoint directory
  bool resume = false;              // continue from run_dir/state/training_state.pt
  int64_t stop_after_steps = 0;     // > 0: save the training state and stop after this step (tests, --stop-after)
  std::ostream* log = nullptr;      // progress and messages; null: std::cerr
};

struct RunOutcome {
  std::filesystem::path run_dir;
  bool finished = false;  // false: stopped by stop_after_steps
  Metrics reported;       // metrics of `split`
  std::string split;      // "test" when the task has one, else "dev"
  int64_t steps = 0;
};

// One seed: trains in `run_dir` and writes everything there. Throws std::runtime_error on a non-finite loss
// (the last training state and best/ stay usable).
RunOutcome run_seed(const ExperimentOptions& options, int64_t seed, const std::filesystem::path& run_dir,
                    const RunControl& control);

// Every seed of `options.seeds` (one run dir each under output_dir when there are several, skipping finished ones),
// then results.json with the median over seeds in output_dir.
std::vector<RunOutcome> run_experiment(const ExperimentOptions& options, const RunControl& control);

struct ModelEvalOptions {
  std::filesystem::path model_dir;  // fine-tuned checkpoint (ours or one saved by transformers)
  std::string model;                // what results.json calls the model (defaults to model_dir)
  std::string task;
  std::string split = "dev";        // dev | test
  DatasetOptions data;              // data_dir, max_seq_length, doc_stride, ...
  int64_t batch_size = 64;
  std::string device = "auto";
};

struct ModelEvalOutcome {
  Metrics metrics;
  std::vector<std::string> predictions;
  std::string results_json;  // results.json text (schema of the trainer's, split = the scored split)
};

// Loads a fine-tuned model and scores one split of a task. Throws std::invalid_argument when the task has no
// such split, std::runtime_error for missing files or a checkpoint whose head does not fit the task.
ModelEvalOutcome evaluate_model(const ModelEvalOptions& options);

// Device named by options (cpu | cuda | auto); throws std::invalid_argument for cuda without CUDA.
std::string resolve_device(const std::string& device);

}  // namespace electra
