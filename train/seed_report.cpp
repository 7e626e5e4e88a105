// The end of a seed's run: the selected model (best on dev, else the last step's) scored on dev and test, its
// predictions written, and results.json.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "common/crash_point.h"
#include "common/stop_signal.h"
#include "dist/communicator.h"
#include "model/runtime.h"
#include "train/seed_run.h"
#include "train/selection.h"

namespace electra {

RunOutcome SeedRun::stopped_in_finish(int signal) {
  checkpoint();
  progress_.finish();
  log_ << fmt::format("stopped at step {} by {}; rerun the same command to resume\n", s_.step, signal_name(signal));
  RunOutcome outcome;
  outcome.run_dir = dir_.path();
  outcome.steps = s_.step;
  outcome.stopped_by = signal;
  return outcome;
}

EvalResult SeedRun::score(const std::vector<Example>& examples, const std::vector<Feature>& features,
                          const std::string& file_name) {
  EvalResult r = evaluate(model_, task_, examples, features, eval_options_);
  if (r.stopped_by != 0) return r;
  for (const auto& w : undefined_metric_warnings(r.metrics, fmt::format("{} ({})", task_.name(), file_name)))
    log_ << "warning: " << w << "\n";
  if (writer_) dir_.write_predictions(file_name, r.predictions);
  if (writer_ && options_.train.dump_batches) {
    // predictions_<split>[_carved].txt -> features_<split>[_carved].jsonl
    std::string name = file_name.substr(std::string("predictions_").size());
    dump_features(dir_.path() / ("features_" + name.substr(0, name.size() - 4) + ".jsonl"), features);
  }
  return r;
}

RunOutcome SeedRun::finish(const Stopwatch& wall) {
  const TaskData& data = data_.examples;
  const SelectionState& sel = s_.selection;
  if (data.has_dev && sel.last_eval_step != s_.step && !sel.stopped_early && !evaluate_dev())
    return stopped_in_finish(comm_.agree_on_stop(stop_signal()));
  checkpoint();
  const double train_seconds = seconds_before_ + train_time_.seconds();

  // The selected model: best on dev, else the last step's.
  std::string selection;
  if (data.has_dev && sel.best_step >= 0) {
    model_ = load_pretrained(dir_.best_dir());
    model_.module()->to(device_);
    selection = fmt::format("best dev {} ({:.4f}) at step {}", task_.main_metric(), sel.best_score, sel.best_step);
  } else {
    save_best();
    const std::string why = !data.has_dev                 ? data.dev_source
                            : !options_.train.select_best ? "train.select_best is false"
                                                          : "no dev score was defined (each was NaN)";
    selection = fmt::format("last step ({}): {}", s_.step, why);
  }
  nlohmann::json split_metrics = nlohmann::json::object();
  nlohmann::json results = {{"schema_version", 1},
                  {"task", task_.name()},
                  {"model", options_.model},
                  {"params", encoder_parameter_count(model_)},
                  {"seed", seed_}};
  Metrics reported;
  std::string split;
  if (data.has_dev) {
    const EvalResult r =
        score(data.dev, data_.dev, data.dev_carved ? "predictions_dev_carved.txt" : "predictions_dev.txt");
    if (r.stopped_by != 0) return stopped_in_finish(r.stopped_by);
    if (data.dev_carved) {
      results["dev_carved_metrics"] = metrics_json(r.metrics);
    } else {
      split_metrics["dev"] = metrics_json(r.metrics);
      reported = r.metrics;
      split = "dev";
    }
  }
  if (data.task_dev) {
    const EvalResult r =
        score(*data.task_dev, featurize(task_, *data.task_dev, tokenizer_, options_.data), "predictions_dev.txt");
    if (r.stopped_by != 0) return stopped_in_finish(r.stopped_by);
    split_metrics["dev"] = metrics_json(r.metrics);
    reported = r.metrics;
    split = "dev";
  }
  if (data.has_test) {
    const EvalResult r = score(data.test, featurize(task_, data.test, tokenizer_, options_.data), "predictions_test.txt");
    if (r.stopped_by != 0) return stopped_in_finish(r.stopped_by);
    split_metrics["test"] = metrics_json(r.metrics);
    reported = r.metrics;
    split = "test";
    if (writer_) {
      dir_.append_metrics({{"type", "eval"}, {"split", "test"}, {"step", s_.step}, {"metrics", split_metrics["test"]}});
    }
  }
  if (split.empty()) {
    throw std::runtime_error(fmt::format("task '{}' has neither a dev nor a test split to score", task_.name()));
  }
  results["split"] = split;
  results["metrics"] = metrics_json(reported);
  results["main_metric"] = task_.main_metric();
  results["split_metrics"] = split_metrics;
  results["steps"] = s_.step;
  results["wall_time_s"] = wall.seconds();
  results["throughput"] = {{"train_examples_per_s", train_seconds > 0 ? s_.examples_seen / train_seconds : 0.0}};
  results["versions"] = versions_json();
  results["train_source"] = data.train_source;
  results["dev_source"] = data.dev_source;
  results["selection"] = selection;
  results["best_step"] = sel.best_step;
  results["epochs"] = static_cast<double>(s_.step) / plan_.steps_per_epoch;
  results["stopped_early"] = sel.stopped_early;
  results["train_examples"] = data.train.size();
  results["train_time_s"] = train_seconds;
  results["device"] = device_.str();
  results["world_size"] = comm_.world_size();
  crash_point("results.before");
  if (writer_) dir_.write_results(results);
  log_ << fmt::format("{} ({}): {} {} = {:.2f}  [{}]\n", task_.name(), split, split, task_.main_metric(),
                      reported.count("main") ? reported.at("main") : 0.0, selection);
  RunOutcome outcome;
  outcome.run_dir = dir_.path();
  outcome.steps = s_.step;
  outcome.finished = true;
  outcome.reported = reported;
  outcome.split = split;
  return outcome;
}

}  // namespace electra
