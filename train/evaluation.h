// Evaluation: a model's raw outputs over features → the task's decode → its scorer. The same path serves dev
// evaluation during training, the final scores of a run and `electra eval --model`, so a number cannot differ.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "architectures/electra_model.h"
#include "tasks/task.h"
#include "train/options.h"

namespace electra {

class Communicator;

struct EvalOptions {
  int64_t batch_size = 64;
  int64_t bucket_multiple = 8;
  int64_t max_seq_length = 128;
  bool bf16 = false;
  DecodeOptions decode;
  // Several ranks: each runs the model over every world_size-th feature (of the longest-first order) and the outputs
  // are gathered, so that every rank decodes and scores all of them and each feature is run exactly once. Null:
  // this process runs them all.
  Communicator* comm = nullptr;
};

struct EvalResult {
  Metrics metrics;                       // holds "main"
  std::vector<std::string> predictions;  // one per example, `electra score` format
  double seconds = 0;
  int64_t features_run_here = 0;         // features this rank ran the model over
  // A stop signal (common/stop_signal.h) abandoned the evaluation: the signal, and nothing else is set.
  int stopped_by = 0;
};

// Runs the model (eval mode, no grad, on its own device) over the features and scores the decoded predictions.
// A stop signal abandons it before the next batch (docs/stopping.md); on several ranks they agree before each batch,
// so that all of them abandon it at the same batch and none waits in the gather.
EvalResult evaluate(const ElectraModel& model, const Task& task, const std::vector<Example>& examples,
                    const std::vector<Feature>& features, const EvalOptions& options);

// Architecture + labels a task needs from a checkpoint.
LoadOptions load_options_for(const Task& task);

}  // namespace electra
