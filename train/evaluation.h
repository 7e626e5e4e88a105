// Evaluation: a model's raw outputs over features → the task's decode → its scorer. The same path serves dev
// evaluation during training, the final scores of a run and `electra eval --model`, so a number cannot differ.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/electra.h"
#include "tasks/task.h"
#include "train/options.h"

namespace electra {

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

// Runs the model (eval mode, no grad, on its own device) over the features and scores the decoded predictions.
EvalResult evaluate(const ElectraModel& model, const Task& task, const std::vector<Example>& examples,
                    const std::vector<Feature>& features, const EvalOptions& options);

// Architecture + labels a task needs from a checkpoint.
LoadOptions load_options_for(const Task& task);

// Device named by options (cpu | cuda | auto); throws std::invalid_argument for cuda without CUDA.
std::string resolve_device(const std::string& device);

struct ModelEvalOptions {
  std::filesystem::path model_dir;  // fine-tuned checkpoint (ours or one saved by transformers)
  std::string model;                // what results.json calls the model (defaults to model_dir)
  std::string split = "dev";        // dev | test
  DatasetOptions data;              // data_dir, max_seq_length, doc_stride, ...
  int64_t batch_size = 64;
  std::string device = "auto";
};

struct ModelEvalOutcome {
  Metrics metrics;
  std::vector<std::string> predictions;
  std::vector<std::string> warnings;  // rows skipped while reading the split
  std::string results_json;           // results.json text (schema of the trainer's, split = the scored split)
};

// Loads a fine-tuned model and scores one split of `task`. Throws std::invalid_argument when the task has no
// such split, std::runtime_error for missing files or a checkpoint whose head does not fit the task.
ModelEvalOutcome evaluate_model(const Task& task, const ModelEvalOptions& options);

}  // namespace electra
