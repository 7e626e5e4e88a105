#include "train/trainer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>

#include "common/crash_point.h"
#include "common/files.h"
#include "common/stopwatch.h"
#include "dist/communicator.h"
#include "model/electra.h"
#include "model/runtime.h"
#include "tokenizer/tokenizer.h"
#include "train/batcher.h"
#include "train/evaluation.h"
#include "train/optimizer.h"
#include "train/progress.h"
#include "train/run_dir.h"
#include "train/selection.h"
#include "train/step.h"
#include "train/task_data.h"
#include "train/train_state.h"

namespace electra {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Where the ranks other than 0 send their log: nowhere.
std::ostream& discarded_log() {
  static std::ostream discard(nullptr);
  return discard;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// train.dump_batches: the features of one split, one JSON line each, in feature order.
void dump_features(const fs::path& file, const std::vector<Feature>& features) {
  std::string text;
  for (const Feature& f : features) {
    json j = {{"input_ids", f.input_ids},     {"token_type_ids", f.token_type_ids}, {"label", f.label},
              {"score", f.score},             {"token_labels", f.token_labels},     {"start_position", f.start_position},
              {"end_position", f.end_position}, {"example_index", f.example_index},  {"offsets", f.offsets},
              {"words_truncated", f.words_truncated}};
    text += j.dump() + "\n";
  }
  write_file_durable(file, text);
}

// How long a run is, in optimizer steps.
struct StepPlan {
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  int64_t warmup_steps = 0;
};

StepPlan plan_steps(const ExperimentOptions& options, int64_t train_features) {
  StepPlan plan;
  const int64_t batch_size = options.train.batch_size;
  plan.steps_per_epoch = (train_features + batch_size - 1) / batch_size;
  plan.total_steps = options.train.max_steps > 0
                         ? options.train.max_steps
                         : std::max<int64_t>(1, static_cast<int64_t>(
                                                    std::ceil(options.train.epochs * plan.steps_per_epoch)));
  plan.warmup_steps = warmup_steps_for(options.schedule, plan.total_steps);
  return plan;
}

// The data of a run once tokenized.
struct RunData {
  TaskData examples;
  std::vector<Feature> train, dev;
};

RunData prepare_data(const Task& task, const DatasetOptions& options, const Tokenizer& tokenizer, std::ostream& log) {
  RunData d;
  Stopwatch stopwatch;
  d.examples = load_task_data(task, options);
  const double read_seconds = stopwatch.seconds();
  for (const auto& w : d.examples.warnings) log << "warning: " << w << "\n";
  stopwatch.restart();
  d.train = featurize(task, d.examples.train, tokenizer, options);
  if (d.examples.has_dev) d.dev = featurize(task, d.examples.dev, tokenizer, options);
  const double featurize_seconds = stopwatch.seconds();
  const TaskData& e = d.examples;
  log << fmt::format("task {}: {} train examples ({} features; read: {}), dev: {} ({} examples), test: {}; read in "
                     "{:.2f} s, train and dev tokenized in {:.2f} s\n",
                     task.name(), e.train.size(), d.train.size(), e.train_source, e.dev_source, e.dev.size(),
                     e.has_test ? std::to_string(e.test.size()) + " examples" : "none", read_seconds,
                     featurize_seconds);
  return d;
}

// One seed's training, from a model and optimizer set up (and possibly resumed) to the run's results.
class SeedRun {
 public:
  SeedRun(const Task& task, const ExperimentOptions& options, int64_t seed, const RunDirectory& dir,
          const RunControl& control, const Tokenizer& tokenizer, const RunData& data, ElectraModel& model,
          AdamW& optimizer, const c10::Device& device, const StepPlan& plan, TrainState state, Communicator& comm)
      : task_(task),
        options_(options),
        seed_(seed),
        dir_(dir),
        control_(control),
        log_(control.log ? *control.log : std::cerr),
        tokenizer_(tokenizer),
        data_(data),
        model_(model),
        optimizer_(optimizer),
        device_(device),
        plan_(plan),
        s_(state),
        progress_(log_, plan.total_steps),
        seconds_before_(state.train_seconds),
        comm_(comm),
        writer_(comm.rank() == 0) {
    eval_options_.comm = &comm;
    eval_options_.batch_size = options.train.eval_batch_size;
    eval_options_.bucket_multiple = padding_multiple(options.data.bucket_multiple, device.is_cuda());
    eval_options_.max_seq_length = options.data.max_seq_length;
    eval_options_.bf16 = options.train.bf16 && device.is_cuda();
  }

  // The step loop, until the planned steps, early stopping or control.stop_after_steps. False: interrupted.
  bool train();
  // The selected model's scores on dev / test, predictions and results.json.
  RunOutcome finish(const Stopwatch& wall);
  int64_t steps() const { return s_.step; }

 private:
  std::vector<Batch> micro_batches(const std::vector<int64_t>& batch) const;
  // train.dump_batches: one line of batches.jsonl for the step about to run.
  void dump_step(const std::vector<Batch>& micro, double lr) const;
  void log_step(const StepResult& result, double lr, int64_t batch_examples);
  void evaluate_dev();
  void save_best();
  void checkpoint();
  [[noreturn]] void fail_non_finite(double loss);
  // Evaluates the model on `examples` and writes predictions to `file_name`.
  EvalResult score(const std::vector<Example>& examples, const std::vector<Feature>& features,
                   const std::string& file_name);

  const Task& task_;
  const ExperimentOptions& options_;
  const int64_t seed_;
  const RunDirectory& dir_;
  const RunControl& control_;
  std::ostream& log_;
  const Tokenizer& tokenizer_;
  const RunData& data_;
  ElectraModel& model_;
  AdamW& optimizer_;
  const c10::Device device_;
  const StepPlan plan_;
  TrainState s_;
  Progress progress_;
  EvalOptions eval_options_;
  const double seconds_before_;  // training time of the run before a resume
  Communicator& comm_;
  const bool writer_;            // rank 0: writes the run directory
  Stopwatch train_time_;   // since train() began
  Stopwatch window_time_;  // since the last metrics.jsonl line
  int64_t window_examples_ = 0;
  bool stop_ = false;
};

std::vector<Batch> SeedRun::micro_batches(const std::vector<int64_t>& batch) const {
  const int64_t micro_size = options_.train.batch_size / options_.train.gradient_accumulation_steps;
  const int64_t bucket_multiple = padding_multiple(options_.data.bucket_multiple, device_.is_cuda());
  std::vector<Batch> out;
  for (const auto& indices : chunk(batch, micro_size)) {
    if (!comm_.distributed()) {
      out.push_back(collate(data_.train, indices, task_.head(), bucket_multiple, options_.data.max_seq_length, true));
    } else {
      out.push_back(collate_share(data_.train, indices, task_.head(), bucket_multiple, options_.data.max_seq_length,
                                  comm_.rank(), comm_.world_size()));
    }
    move_to(out.back(), device_);
  }
  return out;
}

void SeedRun::dump_step(const std::vector<Batch>& micro, double lr) const {
  json batches = json::array();
  for (const Batch& b : micro) {
    batches.push_back({{"feature_indices", b.feature_indices}, {"length", b.input_ids.size(1)}});
  }
  const fs::path file = dir_.path() / "batches.jsonl";
  std::ofstream out(file, std::ios::app);
  out << json({{"step", s_.step + 1}, {"epoch", s_.epoch}, {"lr", lr}, {"micro_batches", batches}}).dump() << "\n";
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", file.string()));
}

bool SeedRun::train() {
  TrainStep step(model_, optimizer_, options_.optimizer.max_grad_norm, options_.train.bf16 && device_.is_cuda(),
                 &comm_);
  stop_ = s_.selection.stopped_early;
  train_time_.restart();
  window_time_.restart();
  bool interrupted = false;
  const auto n_train = static_cast<int64_t>(data_.train.size());
  while (s_.step < plan_.total_steps && !stop_) {
    const auto batches = chunk(epoch_order(n_train, seed_, s_.epoch), options_.train.batch_size);
    for (auto b = static_cast<size_t>(s_.batch_in_epoch); b < batches.size() && s_.step < plan_.total_steps && !stop_;
         ++b) {
      const double lr = options_.optimizer.learning_rate *
                        schedule_factor(options_.schedule.name, s_.step, plan_.warmup_steps, plan_.total_steps);
      const std::vector<Batch> micro = micro_batches(batches[b]);
      if (options_.train.dump_batches && writer_) dump_step(micro, lr);
      const StepResult result = step.run(micro, lr);
      if (!result.finite) fail_non_finite(result.bad_loss);
      ++s_.step;
      crash_point(fmt::format("rank{}.step", comm_.rank()));
      s_.batch_in_epoch = static_cast<int64_t>(b) + 1;
      log_step(result, lr, static_cast<int64_t>(batches[b].size()));
      if (options_.train.eval_every > 0 && s_.step % options_.train.eval_every == 0) evaluate_dev();
      if (s_.batch_in_epoch == static_cast<int64_t>(batches.size())) {
        ++s_.epoch;
        s_.batch_in_epoch = 0;
        if (options_.train.eval_each_epoch && s_.selection.last_eval_step != s_.step) evaluate_dev();
      }
      if (options_.train.save_every > 0 && s_.step % options_.train.save_every == 0) checkpoint();
      if (control_.stop_after_steps > 0 && s_.step == control_.stop_after_steps && s_.step < plan_.total_steps) {
        checkpoint();
        interrupted = true;
        stop_ = true;
      }
    }
  }
  progress_.finish();
  if (interrupted) {
    log_ << fmt::format("stopped after step {}; continue with --resume {}\n", s_.step, dir_.path().string());
  }
  return !interrupted;
}

void SeedRun::log_step(const StepResult& result, double lr, int64_t batch_examples) {
  s_.examples_seen += batch_examples;
  s_.window_loss += result.loss;
  ++s_.window_steps;
  window_examples_ += batch_examples;
  const double epoch = static_cast<double>(s_.step) / plan_.steps_per_epoch;
  const bool log_now = s_.step % options_.train.logging_every == 0 || s_.step == plan_.total_steps;
  const double rate = window_examples_ / std::max(1e-9, window_time_.seconds());
  progress_.update(s_.step, epoch, result.loss, lr, rate, train_time_.seconds(), log_now);
  if (!log_now) return;
  if (writer_) {
    dir_.append_metrics({{"type", "train"},
                         {"step", s_.step},
                         {"epoch", epoch},
                         {"loss", s_.window_loss / static_cast<double>(s_.window_steps)},
                         {"grad_norm", result.grad_norm},
                         {"lr", lr},
                         {"examples_per_s", rate}});
  }
  s_.window_loss = 0;
  s_.window_steps = 0;
  window_examples_ = 0;
  window_time_.restart();
}

void SeedRun::evaluate_dev() {
  if (!data_.examples.has_dev) {
    s_.selection.last_eval_step = s_.step;
    return;
  }
  const EvalResult r = evaluate(model_, task_, data_.examples.dev, data_.dev, eval_options_);
  const double main = r.metrics.at("main");
  const SelectionDecision decision = observe_dev_score(s_.selection, options_.train, s_.step, main);
  if (writer_) {
    dir_.append_metrics({{"type", "eval"},
                         {"split", "dev"},
                         {"step", s_.step},
                         {"epoch", static_cast<double>(s_.step) / plan_.steps_per_epoch},
                         {"metrics", metrics_json(r.metrics)},
                         {"best", decision.improved}});
  }
  progress_.message(fmt::format("step {}: dev {} {:.2f}{}", s_.step, task_.main_metric(), main,
                                decision.improved ? " (best so far)" : ""));
  if (decision.improved) save_best();
  if (decision.stop) {
    progress_.message(fmt::format("early stopping: no dev improvement in {} evaluations", s_.selection.bad_evals));
    stop_ = true;
  }
}

// The state saved after this names this model as the best: it must be on disk first.
// On several ranks, rank 0 writes it and every rank returns once it is written (they may read it next).
void SeedRun::save_best() {
  if (writer_) {
    save_pretrained(model_, dir_.best_dir(), control_.model_dir);
    sync_directory(dir_.best_dir());
    crash_point("best.saved");
  }
  comm_.barrier("the wait for rank 0 to save best/");
}

void SeedRun::checkpoint() {
  if (!writer_) return;
  s_.train_seconds = seconds_before_ + train_time_.seconds();
  save_training_state(dir_.state_dir(), model_, optimizer_, s_, device_);
}

void SeedRun::fail_non_finite(double loss) {
  progress_.finish();
  const fs::path state_file = dir_.state_file();
  throw std::runtime_error(fmt::format(
      "non-finite loss ({}) at step {} (epoch {}); training stopped. Last good training state: {}{}", loss,
      s_.step + 1, s_.epoch + 1, fs::exists(state_file) ? state_file.string() : "none saved yet",
      s_.selection.best_step >= 0
          ? fmt::format(", best model (step {}): {}", s_.selection.best_step, dir_.best_dir().string())
          : ""));
}

EvalResult SeedRun::score(const std::vector<Example>& examples, const std::vector<Feature>& features,
                          const std::string& file_name) {
  EvalResult r = evaluate(model_, task_, examples, features, eval_options_);
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
  if (data.has_dev && sel.last_eval_step != s_.step && !sel.stopped_early) evaluate_dev();
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
    selection = fmt::format("last step ({}): {}", s_.step,
                            data.has_dev ? "train.select_best is false" : data.dev_source);
  }
  json split_metrics = json::object();
  json results = {{"schema_version", 1},
                  {"task", task_.name()},
                  {"model", options_.model},
                  {"params", encoder_parameter_count(model_)},
                  {"seed", seed_}};
  Metrics reported;
  std::string split;
  if (data.has_dev) {
    const EvalResult r =
        score(data.dev, data_.dev, data.dev_carved ? "predictions_dev_carved.txt" : "predictions_dev.txt");
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
    split_metrics["dev"] = metrics_json(r.metrics);
    reported = r.metrics;
    split = "dev";
  }
  if (data.has_test) {
    const EvalResult r = score(data.test, featurize(task_, data.test, tokenizer_, options_.data), "predictions_test.txt");
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

// A finished seed's outcome, read back from its results.json.
RunOutcome finished_outcome(const fs::path& dir) {
  const json r = json::parse(read_file(dir / "results.json"));
  RunOutcome done;
  done.run_dir = dir;
  done.finished = true;
  done.split = r.at("split").get<std::string>();
  done.steps = r.at("steps").get<int64_t>();
  for (const auto& [k, v] : r.at("metrics").items()) done.reported[k] = v.get<double>();
  return done;
}

// summary.json: every seed's metrics and their median.
void write_summary(const Task& task, const ExperimentOptions& options, const std::vector<RunOutcome>& outcomes,
                   const fs::path& output_dir, std::ostream& log) {
  json runs = json::array();
  std::map<std::string, std::vector<double>> values;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    runs.push_back({{"seed", options.seeds[i]},
                    {"run_dir", outcomes[i].run_dir.filename().string()},
                    {"metrics", metrics_json(outcomes[i].reported)}});
    for (const auto& [k, v] : outcomes[i].reported) values[k].push_back(v);
  }
  Metrics med;
  for (const auto& [k, v] : values) med[k] = median(v);
  const json summary = {{"task", task.name()},
                        {"model", options.model},
                        {"seeds", options.seeds},
                        {"split", outcomes.front().split},
                        {"main_metric", task.main_metric()},
                        {"metrics", metrics_json(med)},
                        {"aggregate", "median"},
                        {"runs", runs},
                        {"versions", versions_json()}};
  write_file_durable(output_dir / "summary.json", summary.dump(2) + "\n");
  log << fmt::format("median over {} seeds: {} = {:.2f}\n", options.seeds.size(), task.main_metric(),
                     med.count("main") ? med.at("main") : 0.0);
}

}  // namespace

RunOutcome run_seed(const Task& task, const ExperimentOptions& experiment, int64_t seed, const fs::path& run_dir,
                    const RunControl& control_in) {
  RunControl control = control_in;
  if (!control.comm) control.comm = std::make_shared<Communicator>();
  Communicator& comm = *control.comm;
  const bool writer = comm.rank() == 0;
  if (!writer) control.log = &discarded_log();
  std::ostream& log = control.log ? *control.log : std::cerr;
  const Stopwatch wall;
  RunDirectory dir(run_dir);
  if (control.resume && dir.finished()) {
    RunOutcome done = finished_outcome(run_dir);
    log << fmt::format("{} is finished ({} steps, results.json written); nothing to resume, nothing changed\n",
                       run_dir.string(), done.steps);
    return done;
  }
  ExperimentOptions options = experiment;
  const auto fitted = fit_max_seq_length(
      options.data, ElectraConfig::from_file(control.model_dir / "config.json").max_position_embeddings,
      "data.max_seq_length");
  c10::Device device(resolve_device(options.device));
  // One GPU per local rank, as torchrun lays them out.
  if (device.is_cuda() && comm.distributed()) device = c10::Device(c10::kCUDA, static_cast<int8_t>(comm.local_rank()));
  const bool bf16 = options.train.bf16 && device.is_cuda();
  const bool tf32 = options.train.tf32 && device.is_cuda();
  // "high" lets cuBLAS use TF32 tensor cores for fp32 products (torch.backends.cuda.matmul.allow_tf32 = True).
  if (device.is_cuda()) at::globalContext().setFloat32MatmulPrecision(tf32 ? "high" : "highest");
  if (writer) dir.open(experiment, control.resume);
  if (fitted) log << "warning: " << *fitted << "\n";

  const Tokenizer tokenizer = Tokenizer::from_dir(control.model_dir);
  const RunData data = prepare_data(task, options.data, tokenizer, log);

  at::manual_seed(static_cast<uint64_t>(seed));
  ElectraModel model = load_pretrained(control.model_dir, load_options_for(task));
  if (writer) dir.check_space(training_state_bytes(model.named_parameters()), "the best model");
  model.module()->to(device);
  model.module()->train();
  AdamW optimizer(model, options.optimizer);
  const StepPlan plan = plan_steps(options, static_cast<int64_t>(data.train.size()));
  log << fmt::format("device {}{}{}, AdamW {}{}\n", device.str(), bf16 ? ", bf16 autocast" : "",
                     tf32 ? ", tf32 matmuls" : "",
                     optimizer.uses_fused_kernel() ? "fused kernel" : "per-tensor updates",
                     comm.distributed() ? fmt::format("; {} ranks ({}), global batch {}", comm.world_size(),
                                                      comm.backend(), options.train.batch_size)
                                        : "");

  TrainState state;
  if (control.resume) {
    state = load_training_state(dir.state_dir(), model, optimizer, device);
    if (writer) dir.truncate_metrics(state.step);
    log << fmt::format("resuming {} at step {} (epoch {}, batch {})\n", run_dir.string(), state.step, state.epoch,
                       state.batch_in_epoch);
  } else if (writer) {
    dir.clear_outputs();
    if (options.train.dump_batches) {
      std::error_code ec;
      fs::remove(dir.path() / "batches.jsonl", ec);
      save_pretrained(model, dir.path() / "initial", control.model_dir);
      dump_features(dir.path() / "features_train.jsonl", data.train);
    }
  }
  // The other ranks start once rank 0 has checked and prepared the folder (and stop, with an error, if it failed).
  comm.barrier("the wait for rank 0 to prepare the run directory");

  SeedRun run(task, options, seed, dir, control, tokenizer, data, model, optimizer, device, plan, state, comm);
  if (!run.train()) {
    RunOutcome outcome;
    outcome.run_dir = run_dir;
    outcome.steps = run.steps();
    return outcome;
  }
  return run.finish(wall);
}

std::vector<RunOutcome> run_experiment(const Task& task, const ExperimentOptions& options,
                                       const RunControl& control_in) {
  validate(options);
  RunControl control = control_in;
  if (!control.comm) control.comm = std::make_shared<Communicator>();
  const bool writer = control.comm->rank() == 0;
  if (!writer) control.log = &discarded_log();
  std::ostream& log = control.log ? *control.log : std::cerr;
  const fs::path output_dir = options.output_dir.empty() ? fs::path("runs") / options.task : fs::path(options.output_dir);
  std::vector<RunOutcome> outcomes;
  if (options.seeds.size() == 1) {
    outcomes.push_back(run_seed(task, options, options.seeds[0], output_dir, control));
    return outcomes;
  }
  if (control.resume && fs::exists(output_dir / "summary.json")) {
    for (const int64_t seed : options.seeds) {
      outcomes.push_back(finished_outcome(output_dir / fmt::format("seed-{}", seed)));
    }
    log << fmt::format("{} is finished (summary.json over {} seeds); nothing to resume, nothing changed\n",
                       output_dir.string(), options.seeds.size());
    return outcomes;
  }
  if (writer) {
    fs::create_directories(output_dir);
    if (!control.resume || !fs::exists(output_dir / "config.yaml")) {
      write_file_durable(output_dir / "config.yaml", to_yaml(options));
    }
  }
  for (const int64_t seed : options.seeds) {
    const fs::path dir = output_dir / fmt::format("seed-{}", seed);
    if (fs::exists(dir / "results.json")) {
      log << "seed " << seed << ": already finished in " << dir.string() << "\n";
      outcomes.push_back(finished_outcome(dir));
      continue;
    }
    RunControl c = control;
    c.resume = control.resume && fs::exists(RunDirectory(dir).state_file());
    outcomes.push_back(run_seed(task, options, seed, dir, c));
    if (!outcomes.back().finished) return outcomes;
  }
  if (writer) write_summary(task, options, outcomes, output_dir, log);
  return outcomes;
}

}  // namespace electra
