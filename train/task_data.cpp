#include "train/task_data.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <iterator>
#include <numeric>
#include <random>
#include <stdexcept>

#include "common/crash_point.h"
#include "common/stop_signal.h"

namespace electra {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kDevCarveSeed = 20231;

// The files of one split as one string, for messages.
std::string split_files(const Task& task, Split split, const DatasetOptions& data) {
  const auto files = task.files();
  std::string out;
  for (const auto& name : files.at(split)) out += (out.empty() ? "" : ", ") + (fs::path(data.data_dir) / name).string();
  return out;
}

// Moves a fixed-seed fraction of `train` into `dev`; `train_files` names them in the error.
void carve_dev(TaskData& out, double fraction, const std::string& train_files) {
  std::vector<int64_t> order(out.train.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(kDevCarveSeed);
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
    std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  }
  const auto n_dev = static_cast<size_t>(std::llround(fraction * static_cast<double>(order.size())));
  if (n_dev == 0 || n_dev >= order.size()) {
    throw std::invalid_argument(fmt::format("data.dev_from_train {} leaves no dev or no train examples out of the {} "
                                            "of {}",
                                            fraction, order.size(), train_files));
  }
  std::vector<bool> is_dev(order.size(), false);
  for (size_t i = 0; i < n_dev; ++i) is_dev[order[i]] = true;
  std::vector<Example> train;
  for (size_t i = 0; i < out.train.size(); ++i) (is_dev[i] ? out.dev : train).push_back(std::move(out.train[i]));
  out.train = std::move(train);
  out.has_dev = true;
  out.dev_carved = true;
  out.dev_source = fmt::format("train ({}% carved, seed {})", fraction * 100, kDevCarveSeed);
}

// Appends every pair again with its two sentences swapped.
void add_swapped_pairs(std::vector<Example>& train) {
  const size_t n = train.size();
  for (size_t i = 0; i < n; ++i) {
    if (!train[i].text_b) continue;
    Example swapped = train[i];
    swapped.text_a = *train[i].text_b;
    swapped.text_b = train[i].text_a;
    train.push_back(std::move(swapped));
  }
}

}  // namespace

std::vector<Example> read_split(const Task& task, Split split, const DatasetOptions& data,
                                std::vector<std::string>& warnings) {
  const auto files = task.files();
  if (!files.count(split)) {
    throw std::invalid_argument(fmt::format("task '{}' has no {} split", task.name(), to_string(split)));
  }
  ReadOptions ro;
  ro.skip_bad_rows = data.skip_bad_rows;
  ro.training = split == Split::train;
  std::vector<Example> examples;
  for (const auto& name : files.at(split)) {
    const fs::path file = fs::path(data.data_dir) / name;
    if (!fs::exists(file)) {
      throw std::runtime_error(fmt::format("missing data file {} ({} split of task '{}'; set data.data_dir or "
                                           "--data-dir)",
                                           file.string(), to_string(split), task.name()));
    }
    stop_if_signalled("reading the task's data", kRerunUnchanged);
    ReadResult r = task.read(file, ro);
    for (auto& w : r.warnings) warnings.push_back(w);
    // The reader's own warnings already count and locate skipped, dropped and empty rows (RowPolicy::finish).
    std::move(r.examples.begin(), r.examples.end(), std::back_inserter(examples));
  }
  return examples;
}

TaskData load_task_data(const Task& task, const DatasetOptions& data) {
  TaskData out;
  const auto files = task.files();
  if (!files.count(Split::train)) throw std::invalid_argument(fmt::format("task '{}' has no train split", task.name()));
  out.train = read_split(task, Split::train, data, out.warnings);
  if (out.train.empty()) {
    throw std::runtime_error(fmt::format("task '{}': no training examples in {}", task.name(),
                                         split_files(task, Split::train, data)));
  }
  const size_t read = out.train.size();
  if (data.max_train_examples > 0 && static_cast<size_t>(data.max_train_examples) < read) {
    out.train.resize(static_cast<size_t>(data.max_train_examples));
    out.train_source = fmt::format("the first {} of {} (data.max_train_examples)", out.train.size(), read);
  } else {
    out.train_source = fmt::format("all {}", read);
  }
  if (files.count(Split::test)) {
    out.test = read_split(task, Split::test, data, out.warnings);
    out.has_test = true;
  }
  const bool task_has_dev = files.count(Split::dev) > 0;
  if (data.dev_from_train > 0) {
    carve_dev(out, data.dev_from_train, split_files(task, Split::train, data));
    if (task_has_dev) out.task_dev = read_split(task, Split::dev, data, out.warnings);
  } else if (task_has_dev) {
    out.dev = read_split(task, Split::dev, data, out.warnings);
    out.has_dev = true;
    out.dev_source = "dev";
  } else {
    out.dev_source = fmt::format("none: task '{}' has no dev split; the last step's model is used", task.name());
  }
  if (data.swap_pairs) add_swapped_pairs(out.train);
  return out;
}

std::optional<std::string> fit_max_seq_length(DatasetOptions& data, int64_t max_positions, const std::string& key) {
  if (data.max_seq_length <= max_positions) return std::nullopt;
  const int64_t asked = data.max_seq_length;
  data.max_seq_length = max_positions;
  return fmt::format("{} {} is longer than the model's max_position_embeddings {}: using {}", key, asked,
                     max_positions, max_positions);
}

std::vector<Feature> featurize(const Task& task, const std::vector<Example>& examples, const Tokenizer& tokenizer,
                               const DatasetOptions& data) {
  FeatureOptions fo;
  fo.max_seq_length = data.max_seq_length;
  fo.doc_stride = data.doc_stride;
  fo.max_query_length = data.max_query_length;
  crash_point("data.featurize");
  return task.featurize(examples, tokenizer, fo);
}

}  // namespace electra
