// The examples of a run, read from the task's upstream files (dev carved from train when asked), and their
// features. No tensors: text in, token ids out.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "tokenizer/tokenizer.h"
#include "train/options.h"

namespace electra {

// `dev` is what selection uses (the task's dev split, or a carve-out of train).
struct TaskData {
  std::vector<Example> train, dev, test;
  std::optional<std::vector<Example>> task_dev;  // the task's own dev split when dev was carved from train
  bool has_dev = false, has_test = false;
  bool dev_carved = false;   // dev came from train (data.dev_from_train)
  std::string dev_source;    // "dev", "train (10% carved, seed 20231)", or "none: <task> has no dev split"
  std::string train_source;  // "all 4000" or "the first 1000 of 4000 (data.max_train_examples)", before any carve
  std::vector<std::string> warnings;
};

// Every file of one split from `data.data_dir`, in order; what was skipped (bad rows, rows the published setup
// drops) is counted into `warnings`. Throws std::runtime_error naming a missing file.
std::vector<Example> read_split(const Task& task, Split split, const DatasetOptions& data,
                                std::vector<std::string>& warnings);

// Train (its first data.max_train_examples when > 0), dev (or its carve-out of that train, seed 20231) and test of a
// run, with data.swap_pairs applied to train.
// Throws std::runtime_error naming a missing file or train files that hold no example, std::invalid_argument
// (naming the train files) for a carve-out that leaves nothing.
TaskData load_task_data(const Task& task, const DatasetOptions& data);

// Fits `data.max_seq_length` to a model with `max_positions` position embeddings: when it is longer, it becomes
// `max_positions` and the returned line says so, naming `key` (how the user spelled the setting) and both values.
std::optional<std::string> fit_max_seq_length(DatasetOptions& data, int64_t max_positions, const std::string& key);

// The task's features of `examples` with the run's lengths (max_seq_length, doc_stride, max_query_length).
std::vector<Feature> featurize(const Task& task, const std::vector<Example>& examples, const Tokenizer& tokenizer,
                               const DatasetOptions& data);

}  // namespace electra
