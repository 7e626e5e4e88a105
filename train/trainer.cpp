#include "train/trainer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <stdexcept>

#include "architectures/electra_model.h"
#include "common/files.h"
#include "common/stopwatch.h"
#include "dist/communicator.h"
#include "metrics/bootstrap.h"
#include "model/runtime.h"
#include "tokenizer/tokenizer.h"
#include "train/memory_preflight.h"
#include "train/run_dir.h"
#include "train/seed_run.h"
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

using metrics::median;  // NaN when a seed's value is NaN

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

RunData prepare_data(const Task& task, const DatasetOptions& options, const Tokenizer& tokenizer, std::ostream& log) {
  RunData d;
  Stopwatch stopwatch;
  d.examples = load_task_data(task, options);
  const double read_seconds = stopwatch.seconds();
  for (const auto& w : d.examples.warnings) log << "warning: " << w << "\n";
  stopwatch.restart();
  d.train = featurize(task, d.examples.train, tokenizer, options);
  if (d.examples.has_dev) d.dev = featurize(task, d.examples.dev, tokenizer, options);
  if (d.examples.has_test) {
    for (const Feature& f : featurize(task, d.examples.test, tokenizer, options))
      d.test_length = std::max(d.test_length, static_cast<int64_t>(f.input_ids.size()));
  }
  const double featurize_seconds = stopwatch.seconds();
  const TaskData& e = d.examples;
  log << fmt::format("task {}: {} train examples ({} features; read: {}), dev: {} ({} examples), test: {}; read in "
                     "{:.2f} s, tokenized in {:.2f} s\n",
                     task.name(), e.train.size(), d.train.size(), e.train_source, e.dev_source, e.dev.size(),
                     e.has_test ? std::to_string(e.test.size()) + " examples" : "none", read_seconds,
                     featurize_seconds);
  return d;
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
  for (const auto& [k, v] : values) {
    if (k == "main" || !std::isnan(med[k])) continue;
    std::vector<int64_t> undefined;
    for (size_t i = 0; i < v.size(); ++i)
      if (std::isnan(v[i])) undefined.push_back(options.seeds[i]);
    log << fmt::format("warning: the median of {} over {} seeds is undefined (NaN): seed(s) {} scored NaN\n", k,
                       v.size(), fmt::join(undefined, ", "));
  }
  const json summary = {{"task", task.name()},
                        {"model", options.model},
                        {"seeds", options.seeds},
                        {"split", outcomes.front().split},
                        {"main_metric", task.main_metric()},
                        {"metrics", metrics_json(med)},
                        {"aggregate", "median"},
                        {"runs", runs},
                        {"versions", versions_json()}};
  write_file_atomic(output_dir / "summary.json", summary.dump(2) + "\n");
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
  const ElectraConfig model_config = ElectraConfig::from_file(control.model_dir / "config.json");
  const auto fitted = fit_max_seq_length(options.data, model_config.max_position_embeddings, "data.max_seq_length");
  c10::Device device(resolve_device(options.device));
  // One GPU per local rank, as torchrun lays them out.
  if (device.is_cuda() && comm.distributed()) device = c10::Device(c10::kCUDA, static_cast<int8_t>(comm.local_rank()));
  const bool bf16 = options.train.bf16 && device.is_cuda();
  const bool tf32 = options.train.tf32 && device.is_cuda();
  // "high" lets cuBLAS use TF32 tensor cores for fp32 products (torch.backends.cuda.matmul.allow_tf32 = True).
  if (device.is_cuda()) at::globalContext().setFloat32MatmulPrecision(tf32 ? "high" : "highest");
  if (fitted) log << "warning: " << *fitted << "\n";

  const Tokenizer tokenizer = Tokenizer::from_dir(control.model_dir);
  const RunData data = prepare_data(task, options.data, tokenizer, log);
  // Before the folder is written: a run that cannot fit is refused with the keys to change.
  MemoryPlan memory = memory_preflight(model_config, options, data, comm.world_size(), device.is_cuda() ? "cuda" : "cpu",
                                       control.force, control.resume, run_dir, log);
  if (writer) dir.open(experiment, control.resume);

  at::manual_seed(static_cast<uint64_t>(seed));
  ElectraModel model = load_pretrained(control.model_dir, load_options_for(task));
  if (writer) dir.check_space(training_state_bytes(model.named_parameters()), "the best model");
  model.module()->to(device);
  model.module()->train();
  AdamW optimizer(model, options.optimizer);
  probe_micro_batch(memory, model, options, data, task.head(), device, run_dir, log);
  const StepPlan plan = plan_steps(options, static_cast<int64_t>(data.train.size()));
  if (const std::string w = warmup_warning(plan.warmup_steps, plan.total_steps); !w.empty()) log << "warning: " << w << "\n";
  if (options.train.save_every == 0)
    log << "warning: train.save_every is 0: no training state is saved before the end, so a stopped run cannot "
           "resume and restarts from step 0\n";
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
    outcome.stopped_by = run.stopped_by();
    return outcome;
  }
  return run.finish(wall);
}

fs::path experiment_dir(const ExperimentOptions& options) {
  return options.output_dir.empty() ? fs::path("runs") / options.task : fs::path(options.output_dir);
}

std::vector<RunOutcome> run_experiment(const Task& task, const ExperimentOptions& options,
                                       const RunControl& control_in) {
  validate(options);
  RunControl control = control_in;
  if (!control.comm) control.comm = std::make_shared<Communicator>();
  const bool writer = control.comm->rank() == 0;
  if (!writer) control.log = &discarded_log();
  std::ostream& log = control.log ? *control.log : std::cerr;
  const fs::path output_dir = experiment_dir(options);
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
      write_file_atomic(output_dir / "config.yaml", to_yaml(options));
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
