// `electra eval --model`: loads a fine-tuned model and scores one split of a task, through the same evaluation as
// training (train/evaluation.h). No tensor in this interface.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "train/options.h"

namespace electra {

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
  int stopped_by = 0;                 // a stop signal abandoned the evaluation: nothing above is set
};

// Loads a fine-tuned model and scores one split of `task`. Throws std::invalid_argument when the task has no
// such split, std::runtime_error for missing files or a checkpoint whose head does not fit the task.
ModelEvalOutcome evaluate_model(const Task& task, const ModelEvalOptions& options);

}  // namespace electra
