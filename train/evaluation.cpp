#include "train/evaluation.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <numeric>
#include <stdexcept>

#include "model/runtime.h"
#include "tokenizer/tokenizer.h"
#include "train/autocast.h"
#include "train/batcher.h"
#include "train/run_dir.h"
#include "train/task_data.h"

namespace electra {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

c10::Device model_device(const ElectraModel& model) {
  for (const auto& p : model.module()->parameters()) return p.device();
  return at::kCPU;
}

std::vector<float> row(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

std::string resolve_device(const std::string& device) {
  if (device == "cpu") return "cpu";
  if (device == "cuda" || device == "auto") {
    if (cuda_device_count() > 0) return "cuda";
    if (device == "cuda") {
      throw std::invalid_argument("device 'cuda' asked for, but LibTorch finds no CUDA device here (use cpu or auto)");
    }
    return "cpu";
  }
  throw std::invalid_argument(fmt::format("unknown device '{}' (known: cpu, cuda, auto)", device));
}

LoadOptions load_options_for(const Task& task) {
  LoadOptions lo;
  switch (task.head()) {
    case HeadKind::sequence_classification:
      lo.architecture = Architecture::sequence_classification;
      lo.id2label = task.labels();
      break;
    case HeadKind::regression:
      lo.architecture = Architecture::sequence_classification;
      lo.id2label = {"LABEL_0"};
      lo.problem_type = "regression";
      break;
    case HeadKind::token_classification:
      lo.architecture = Architecture::token_classification;
      lo.id2label = task.labels();
      break;
    case HeadKind::span_extraction:
      lo.architecture = Architecture::question_answering;
      break;
  }
  return lo;
}

EvalResult evaluate(const ElectraModel& model, const Task& task, const std::vector<Example>& examples,
                    const std::vector<Feature>& features, const EvalOptions& options) {
  const auto start = Clock::now();
  at::NoGradGuard no_grad;
  const bool was_training = model.module()->is_training();
  model.module()->eval();
  const c10::Device device = model_device(model);
  // Longest first, so each batch pads little; outputs go back to feature order.
  std::vector<int64_t> order(features.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return features[a].input_ids.size() > features[b].input_ids.size(); });
  std::vector<FeatureOutput> outputs(features.size());
  for (const auto& indices : chunk(order, options.batch_size)) {
    Batch batch = collate(features, indices, task.head(), options.bucket_multiple, options.max_seq_length, false);
    move_to(batch, device);
    ModelOutput out;
    {
      AutocastGuard autocast(options.bf16 && device.is_cuda());
      out = model.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids);
    }
    const at::Tensor logits = out.logits.defined() ? out.logits.to(at::kFloat).cpu() : at::Tensor();
    const at::Tensor starts = out.start_logits.defined() ? out.start_logits.to(at::kFloat).cpu() : at::Tensor();
    const at::Tensor ends = out.end_logits.defined() ? out.end_logits.to(at::kFloat).cpu() : at::Tensor();
    for (size_t r = 0; r < indices.size(); ++r) {
      const int64_t fi = indices[r];
      const auto len = static_cast<int64_t>(features[fi].input_ids.size());
      FeatureOutput& fo = outputs[fi];
      switch (task.head()) {
        case HeadKind::sequence_classification:
        case HeadKind::regression:
          fo.logits = row(logits[r]);
          break;
        case HeadKind::token_classification:
          fo.logits = row(logits[r].slice(0, 0, len));
          break;
        case HeadKind::span_extraction:
          fo.start_logits = row(starts[r].slice(0, 0, len));
          fo.end_logits = row(ends[r].slice(0, 0, len));
          break;
      }
    }
  }
  if (was_training) model.module()->train();
  EvalResult result;
  result.predictions = task.decode(examples, features, outputs, options.decode);
  result.metrics = task.score(examples, result.predictions);
  result.seconds = seconds_since(start);
  return result;
}

ModelEvalOutcome evaluate_model(const Task& task, const ModelEvalOptions& options) {
  const auto start = Clock::now();
  const Split split = parse_split(options.split);
  if (split == Split::train) throw std::invalid_argument("electra eval scores the dev or test split, not train");
  const auto files = task.files();
  if (!files.count(split)) {
    throw std::invalid_argument(fmt::format("task '{}' has no {} split (it has: {})", task.name(), options.split,
                                            files.count(Split::dev) ? "train, dev" : "train, test"));
  }
  const c10::Device device(resolve_device(options.device));
  const Tokenizer tokenizer = Tokenizer::from_dir(options.model_dir);
  ElectraModel model = load_pretrained(options.model_dir);
  const ElectraConfig& config = model.config();
  const LoadOptions wanted = load_options_for(task);
  if (config.architecture != wanted.architecture ||
      (task.head() != HeadKind::span_extraction && config.num_labels() != static_cast<int64_t>(wanted.id2label.size()))) {
    throw std::runtime_error(fmt::format("{}: a {} with {} labels does not fit task '{}' ({} with {} labels)",
                                         (options.model_dir / "config.json").string(), to_hf_class(config.architecture),
                                         config.num_labels(), task.name(), to_hf_class(wanted.architecture),
                                         wanted.id2label.size()));
  }
  if (task.head() == HeadKind::sequence_classification || task.head() == HeadKind::token_classification) {
    if (config.id2label != wanted.id2label) {
      throw std::runtime_error(fmt::format("{}: labels [{}] differ from task '{}' labels [{}]",
                                           (options.model_dir / "config.json").string(),
                                           fmt::join(config.id2label, ", "), task.name(),
                                           fmt::join(wanted.id2label, ", ")));
    }
  }
  model.module()->to(device);
  std::vector<std::string> warnings;
  const std::vector<Example> examples = read_split(task, split, options.data, warnings);
  const auto features = featurize(task, examples, tokenizer, options.data);
  EvalOptions eo;
  eo.batch_size = options.batch_size;
  eo.bucket_multiple = options.data.bucket_multiple;
  eo.max_seq_length = options.data.max_seq_length;
  const EvalResult r = evaluate(model, task, examples, features, eo);
  const json results = {{"schema_version", 1},
                        {"task", task.name()},
                        {"model", options.model.empty() ? options.model_dir.string() : options.model},
                        {"params", encoder_parameter_count(model)},
                        {"seed", 0},
                        {"split", options.split},
                        {"metrics", metrics_json(r.metrics)},
                        {"main_metric", task.main_metric()},
                        {"split_metrics", {{options.split, metrics_json(r.metrics)}}},
                        {"wall_time_s", seconds_since(start)},
                        {"throughput", {{"eval_examples_per_s", examples.size() / std::max(1e-9, r.seconds)}}},
                        {"versions", versions_json()},
                        {"examples", examples.size()},
                        {"device", device.str()}};
  return {r.metrics, r.predictions, warnings, results.dump(2) + "\n"};
}

}  // namespace electra
