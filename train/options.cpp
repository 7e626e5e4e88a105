#include "train/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "common/limits.h"
#include "common/option_fields.h"

namespace electra {
namespace {

// The one list of keys, YAML key = dotted struct path: this command's and add_shared_fields'. YAML holds the
// top-level keys first, then the sections in table.sections' order.
FieldTable fields(ExperimentOptions& o) {
  FieldTable table;
  table.sections = {"data", "optimizer", "schedule", "train"};
  table.skipped_top_keys = {"base"};  // load_file reads it
  table.fields = {
      {"model", &o.model},
      {"task", &o.task},
      {"seeds", &o.seeds},
      {"data.data_dir", &o.data.data_dir},
      {"data.max_seq_length", &o.data.max_seq_length},
      {"data.doc_stride", &o.data.doc_stride},
      {"data.max_query_length", &o.data.max_query_length},
      {"data.dev_from_train", &o.data.dev_from_train},
      {"data.max_train_examples", &o.data.max_train_examples},
      {"data.swap_pairs", &o.data.swap_pairs},
      {"data.skip_bad_rows", &o.data.skip_bad_rows},
      {"data.bucket_multiple", &o.data.bucket_multiple},
      {"train.epochs", &o.train.epochs},
      {"train.max_steps", &o.train.max_steps},
      {"train.batch_size", IntOrAuto{&o.train.batch_size, &o.train.accumulation_auto, true}},
      {"train.gradient_accumulation_steps", IntOrAuto{&o.train.gradient_accumulation_steps, &o.train.accumulation_auto}},
      {"train.eval_batch_size", &o.train.eval_batch_size},
      {"train.eval_every", &o.train.eval_every},
      {"train.eval_each_epoch", &o.train.eval_each_epoch},
      {"train.select_best", &o.train.select_best},
      {"train.save_every", &o.train.save_every},
      {"train.logging_every", &o.train.logging_every},
      {"train.early_stopping_patience", &o.train.early_stopping_patience},
      {"train.bf16", &o.train.bf16},
      {"train.tf32", &o.train.tf32},
      {"train.dump_batches", &o.train.dump_batches},
  };
  add_shared_fields(table, o.output_dir, o.device, o.optimizer, o.schedule, true);
  return table;
}

void load_file(ExperimentOptions& o, const std::filesystem::path& file, std::vector<std::filesystem::path>& chain) {
  const auto canonical = std::filesystem::weakly_canonical(file);
  for (const auto& seen : chain) {
    if (seen == canonical) throw std::invalid_argument(fmt::format("{}: `base:` files form a cycle", file.string()));
  }
  chain.push_back(canonical);
  const YAML::Node root = load_yaml_mapping(file);
  if (root.IsNull()) return;
  if (const auto base = root["base"]) {
    if (!base.IsScalar()) bad_option_value(file.string(), "base", base, "a file path");
    load_file(o, file.parent_path() / base.Scalar(), chain);
  }
  apply_yaml_mapping(fields(o), root, file.string(), o.warnings);
}

}  // namespace

void apply_setting(ExperimentOptions& options, const std::string& assignment) {
  apply_assignment(fields(options), assignment);
}

void validate(const ExperimentOptions& o) {
  const auto fail = [](const std::string& key, const auto& value, const std::string& rule) {
    bad_option_range(key, value, rule);
  };
  if (o.model.empty()) fail("model", "''", "name a model directory or hub id (--model)");
  if (o.task.empty()) fail("task", "''", "name a task");
  if (o.seeds.empty()) fail("seeds", "[]", "name at least one seed");
  // A seed given twice would count one run twice in the median.
  for (size_t i = 0; i < o.seeds.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (o.seeds[i] == o.seeds[j])
        fail("seeds", fmt::format("[{}]", fmt::join(o.seeds, ", ")),
             fmt::format("lists seed {} twice; each seed is one run of the median", o.seeds[i]));
  if (static_cast<int64_t>(o.seeds.size()) > limits::kSeeds)
    fail("seeds", fmt::format("[{} seeds]", o.seeds.size()), limits::above(limits::kSeeds));
  validate_shared_options(o.device, o.optimizer, o.schedule);
  // Upper bounds first (common/limits.h): each is checked before any data is read or memory allocated.
  const struct {
    const char* key;
    int64_t value, limit;
  } bounded[] = {
      {"data.max_seq_length", o.data.max_seq_length, limits::kSequenceLength},
      {"data.doc_stride", o.data.doc_stride, limits::kSequenceLength},
      {"data.max_query_length", o.data.max_query_length, limits::kSequenceLength},
      {"data.max_train_examples", o.data.max_train_examples, limits::kSteps},
      {"data.bucket_multiple", o.data.bucket_multiple, limits::kSequenceLength},
      {"train.max_steps", o.train.max_steps, limits::kSteps},
      {"train.batch_size", o.train.batch_size, limits::kBatchSize},
      {"train.gradient_accumulation_steps", o.train.gradient_accumulation_steps, limits::kBatchSize},
      {"train.eval_batch_size", o.train.eval_batch_size, limits::kBatchSize},
      {"train.eval_every", o.train.eval_every, limits::kSteps},
      {"train.save_every", o.train.save_every, limits::kSteps},
      {"train.logging_every", o.train.logging_every, limits::kSteps},
      {"train.early_stopping_patience", o.train.early_stopping_patience, limits::kSteps},
  };
  for (const auto& b : bounded)
    if (b.value > b.limit) fail(b.key, b.value, limits::above(b.limit));
  if (o.train.epochs > limits::kEpochs) fail("train.epochs", o.train.epochs, limits::above(limits::kEpochs));
  if (o.data.max_seq_length < 8) fail("data.max_seq_length", o.data.max_seq_length, "must be at least 8");
  if (o.data.doc_stride < 1) fail("data.doc_stride", o.data.doc_stride, "must be positive");
  if (o.data.max_query_length < 1) fail("data.max_query_length", o.data.max_query_length, "must be positive");
  if (o.data.dev_from_train < 0 || o.data.dev_from_train >= 1)
    fail("data.dev_from_train", o.data.dev_from_train, "must be in [0, 1)");
  if (o.data.max_train_examples < 0)
    fail("data.max_train_examples", o.data.max_train_examples, "must be >= 0 (0: every train example)");
  if (o.data.bucket_multiple < 0)
    fail("data.bucket_multiple", o.data.bucket_multiple, "must be 0 (automatic: 1 on the CPU, 8 on CUDA) or positive");
  if (o.train.epochs <= 0 && o.train.max_steps <= 0) fail("train.epochs", o.train.epochs, "must be > 0");
  if (o.train.max_steps < 0) fail("train.max_steps", o.train.max_steps, "must be >= 0");
  if (o.train.batch_size < 1) fail("train.batch_size", o.train.batch_size, "must be positive");
  if (!o.train.accumulation_auto &&
      (o.train.gradient_accumulation_steps < 1 || o.train.batch_size % o.train.gradient_accumulation_steps != 0))
    fail("train.gradient_accumulation_steps", o.train.gradient_accumulation_steps,
         fmt::format("must be positive and divide train.batch_size ({})", o.train.batch_size));
  if (o.train.eval_batch_size < 1) fail("train.eval_batch_size", o.train.eval_batch_size, "must be positive");
  if (o.train.eval_every < 0) fail("train.eval_every", o.train.eval_every, "must be >= 0");
  if (o.train.save_every < 0) fail("train.save_every", o.train.save_every, "must be >= 0");
  if (o.train.logging_every < 1) fail("train.logging_every", o.train.logging_every, "must be positive");
  if (o.train.early_stopping_patience < 0)
    fail("train.early_stopping_patience", o.train.early_stopping_patience, "must be >= 0");
}

void add_shared_fields(FieldTable& table, std::string& output_dir, std::string& device, OptimizerOptions& optimizer,
                       ScheduleOptions& schedule, bool layerwise_lr_decay) {
  auto& f = table.fields;
  f.insert(f.end(), {{"output_dir", &output_dir},
                     {"device", &device},
                     {"optimizer.learning_rate", &optimizer.learning_rate},
                     {"optimizer.weight_decay", &optimizer.weight_decay},
                     {"optimizer.adam_beta1", &optimizer.adam_beta1},
                     {"optimizer.adam_beta2", &optimizer.adam_beta2},
                     {"optimizer.adam_epsilon", &optimizer.adam_epsilon},
                     {"optimizer.max_grad_norm", &optimizer.max_grad_norm}});
  if (layerwise_lr_decay) f.emplace_back("optimizer.layerwise_lr_decay", &optimizer.layerwise_lr_decay);
  f.insert(f.end(), {{"optimizer.fused", &optimizer.fused},
                     {"schedule.name", &schedule.name},
                     {"schedule.warmup_ratio", &schedule.warmup_ratio},
                     {"schedule.warmup_steps", &schedule.warmup_steps}});
}

void validate_shared_options(const std::string& device, const OptimizerOptions& o, const ScheduleOptions& s) {
  if (device != "cpu" && device != "cuda" && device != "auto")
    bad_option_range("device", device, "use cpu, cuda or auto");
  if (o.learning_rate <= 0) bad_option_range("optimizer.learning_rate", o.learning_rate, "must be > 0");
  if (o.weight_decay < 0) bad_option_range("optimizer.weight_decay", o.weight_decay, "must be >= 0");
  if (o.adam_beta1 < 0 || o.adam_beta1 >= 1)
    bad_option_range("optimizer.adam_beta1", o.adam_beta1, "must be in [0, 1)");
  if (o.adam_beta2 < 0 || o.adam_beta2 >= 1)
    bad_option_range("optimizer.adam_beta2", o.adam_beta2, "must be in [0, 1)");
  if (o.adam_epsilon <= 0) bad_option_range("optimizer.adam_epsilon", o.adam_epsilon, "must be > 0");
  if (o.layerwise_lr_decay <= 0 || o.layerwise_lr_decay > 1)
    bad_option_range("optimizer.layerwise_lr_decay", o.layerwise_lr_decay, "must be in (0, 1]");
  if (s.name != "linear" && s.name != "constant" && s.name != "cosine")
    bad_option_range("schedule.name", s.name, "use linear, constant or cosine");
  if (s.warmup_ratio < 0 || s.warmup_ratio > 1)
    bad_option_range("schedule.warmup_ratio", s.warmup_ratio, "must be in [0, 1]");
  if (s.warmup_steps < 0) bad_option_range("schedule.warmup_steps", s.warmup_steps, "must be >= 0");
  if (s.warmup_steps > limits::kSteps)
    bad_option_range("schedule.warmup_steps", s.warmup_steps, limits::above(limits::kSteps));
}

ExperimentOptions load_experiment(const std::filesystem::path& file, const std::vector<std::string>& sets) {
  ExperimentOptions options;
  std::vector<std::filesystem::path> chain;
  load_file(options, file, chain);
  for (const auto& s : sets) apply_setting(options, s);
  return options;
}

std::string to_yaml(const ExperimentOptions& options) {
  ExperimentOptions copy = options;
  return fields_to_yaml(fields(copy));
}

}  // namespace electra
