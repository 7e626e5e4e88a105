#include "train/model_eval.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "architectures/electra_model.h"
#include "common/stopwatch.h"
#include "model/runtime.h"
#include "tokenizer/tokenizer.h"
#include "train/batcher.h"
#include "train/evaluation.h"
#include "train/run_dir.h"
#include "train/task_data.h"

namespace electra {

using nlohmann::json;

ModelEvalOutcome evaluate_model(const Task& task, const ModelEvalOptions& options) {
  const Stopwatch stopwatch;
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
                                         (options.model_dir / "config.json").string(), config.hf_class(),
                                         config.num_labels(), task.name(),
                                         to_hf_class(wanted.architecture, config.model_type),
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
  DatasetOptions data = options.data;
  if (auto fitted = fit_max_seq_length(data, config.max_position_embeddings, "--max-seq-length")) {
    warnings.push_back(*fitted);
  }
  const std::vector<Example> examples = read_split(task, split, data, warnings);
  const auto features = featurize(task, examples, tokenizer, data);
  EvalOptions eo;
  eo.batch_size = options.batch_size;
  eo.bucket_multiple = padding_multiple(data.bucket_multiple, device.is_cuda());
  eo.max_seq_length = data.max_seq_length;
  const EvalResult r = evaluate(model, task, examples, features, eo);
  if (r.stopped_by != 0) {
    ModelEvalOutcome stopped;
    stopped.stopped_by = r.stopped_by;
    return stopped;
  }
  for (auto& w : undefined_metric_warnings(r.metrics, fmt::format("{} {}", task.name(), options.split)))
    warnings.push_back(std::move(w));
  const json results = {{"schema_version", 1},
                        {"task", task.name()},
                        {"model", options.model.empty() ? options.model_dir.string() : options.model},
                        {"params", encoder_parameter_count(model)},
                        {"seed", 0},
                        {"split", options.split},
                        {"metrics", metrics_json(r.metrics)},
                        {"main_metric", task.main_metric()},
                        {"split_metrics", {{options.split, metrics_json(r.metrics)}}},
                        {"wall_time_s", stopwatch.seconds()},
                        {"throughput", {{"eval_examples_per_s", examples.size() / std::max(1e-9, r.seconds)}}},
                        {"versions", versions_json()},
                        {"examples", examples.size()},
                        {"device", device.str()}};
  return {r.metrics, r.predictions, warnings, results.dump(2) + "\n"};
}

}  // namespace electra
