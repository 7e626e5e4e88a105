// `electra finetune`: resolves an experiment (YAML config + flags), its model and data, and runs the trainer; with
// --suite, runs a suite of them (train/suite.h).
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/folder_lock.h"
#include "common/stop_signal.h"
#include "dist/environment.h"
#include "dist/launch.h"
#include "hub/data.h"
#include "hub/hub.h"
#include "tasks/task.h"
#include "train/memory_estimate.h"
#include "train/options.h"
#include "train/run_dir.h"
#include "train/suite.h"
#include "train/trainer.h"

namespace electra::cli {
namespace {

namespace fs = std::filesystem;

struct FinetuneArgs {
  std::string config;
  std::string resume;
  int64_t stop_after = 0;
  int nproc = 1;       // > 1: start this many local ranks of this command (data-parallel)
  std::string emit;    // suite: "slurm" prints an sbatch job-array script instead of running
  // The flags a single run shares with a suite (model, data_dir, output_dir, device, sets, ...), and the suite's own.
  SuiteOptions run;
};

ExperimentOptions resolve_options(const FinetuneArgs& args) {
  if (!args.resume.empty() && !args.config.empty()) {
    throw std::invalid_argument("give either --config FILE or --resume RUN_DIR (a run resumes with its own config.yaml)");
  }
  if (args.resume.empty() && args.config.empty()) {
    throw std::invalid_argument("electra finetune: --config FILE.yaml is required (or --resume RUN_DIR)");
  }
  const fs::path file = args.resume.empty() ? fs::path(args.config) : fs::path(args.resume) / "config.yaml";
  if (!fs::exists(file)) {
    throw std::invalid_argument(fmt::format("config file {} does not exist", file.string()));
  }
  ExperimentOptions options = load_job_experiment(file);
  // Flags typed on the command line override the file; they use the same keys as --set.
  if (!args.run.model.empty()) options.model = args.run.model;
  if (!args.run.data_dir.empty()) options.data.data_dir = args.run.data_dir;
  if (!args.run.output_dir.empty()) options.output_dir = args.run.output_dir;
  if (!args.run.device.empty()) options.device = args.run.device;
  for (const auto& s : args.run.sets) apply_setting(options, s);
  if (!args.resume.empty()) options.output_dir = args.resume;
  validate(options);
  return options;
}

void run_finetune(const FinetuneArgs& args) {
  // One run per folder: the folder of a resumed run is locked before its config.yaml is read. Ranks other than 0
  // write nothing there.
  const DistEnv env = read_dist_env();
  RunFolderLock lock(env.rank == 0 && !args.run.dump_config, args.resume, "finetune");
  ExperimentOptions options = resolve_options(args);
  const Task& task = find_task(options.task);
  if (args.run.dump_config) {
    fmt::print("{}{}", to_yaml(options), fine_tune_memory_comment(options));
    return;
  }
  lock.acquire(experiment_dir(options));
  install_stop_handlers();
  RunControl control;
  control.comm = connect(env, args.run.dist, options.device == "cuda");
  const bool fetch_data = options.data.data_dir.empty();
  fetch_once_per_machine(env, control.comm.get(), [&](bool cache_only) {
    control.model_dir = resolve_model(options.model, hub_options(args.run, cache_only));
    if (fetch_data) {
      options.data.data_dir = ensure_task_data(task.name(), default_data_dir(), data_options(args.run, cache_only)).dir.string();
    }
  });
  // The same command again resumes its run (a requeued job script, a rerun after Ctrl-C).
  control.resume = !args.resume.empty() || same_command_resumes(experiment_dir(options), to_yaml(options));
  control.stop_after_steps = args.stop_after;
  control.force = args.run.force;
  const auto outcomes = run_experiment(task, options, control);
  std::fflush(stderr);
  for (const auto& o : outcomes)
    if (o.stopped_by != 0) throw StoppedBySignal(o.stopped_by);
  if (read_dist_env().rank != 0) return;
  for (const auto& o : outcomes) {
    if (!o.finished) continue;
    fmt::print("{}: {} {} = {:.2f} (steps {})\n", o.run_dir.string(), o.split, task.main_metric(),
               o.reported.count("main") ? o.reported.at("main") : 0.0, o.steps);
  }
}

void finetune_suite(const FinetuneArgs& args) {
  if (!args.config.empty() || !args.resume.empty()) {
    throw std::invalid_argument("--suite runs the suite's own configs: drop --config / --resume (an interrupted suite "
                                "resumes when rerun with the same --output-dir)");
  }
  if (args.emit.empty()) {
    if (!args.run.dump_config) install_stop_handlers();
    run_suite(args.run);
  } else {
    fmt::print("{}", slurm_script(args.run));
  }
}

}  // namespace

void add_finetune_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("finetune", "Fine-tune a model on a task from a YAML experiment config");
  auto args = std::make_shared<FinetuneArgs>();
  cmd->add_option("--config", args->config, "Experiment YAML (configs/korean/*.yaml, configs/glue/*.yaml, ...)");
  cmd->add_option("--model", args->run.model, "Model directory or hub id (overrides `model`)");
  cmd->add_option("--data-dir", args->run.data_dir,
                  "Folder with the task's upstream files (overrides `data.data_dir`); with --suite, the folder "
                  "holding one <task>/ folder per task");
  cmd->add_option("--output-dir", args->run.output_dir, "Run directory (overrides `output_dir`)");
  cmd->add_flag("--offline", args->run.offline,
                "Download nothing: the model from a local folder or the hub cache, task data from the data folder "
                "(missing files are an error naming them)");
  cmd->add_option("--data-sources", args->run.data_sources,
                  "URL table used to fetch missing task data (default: configs/data_sources.yaml)");
  cmd->add_option("--set", args->run.sets, "Override one key: --set optimizer.learning_rate=3e-5 (repeatable)");
  cmd->add_flag("--dump-config", args->run.dump_config, "Print the resolved config as YAML and exit");
  cmd->add_option("--device", args->run.device, "cpu | cuda | auto (overrides `device`)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  cmd->add_option("--resume", args->resume, "Continue the interrupted run in RUN_DIR");
  cmd->add_flag("--force", args->run.force,
                "Start even when the memory estimate exceeds what this process may use (docs/memory.md)");
  cmd->add_option("--stop-after", args->stop_after, "Save and stop after this step (resume later with --resume)")
      ->check(step_number())
      ->check(at_most(limits::kSteps));
  cmd->add_option("--suite", args->run.suite, "Run every task config of a suite, then write its leaderboard")
      ->check(CLI::IsMember({"korean", "glue"}));
  cmd->add_option("--configs-dir", args->run.configs_dir, "Suite: folder holding <suite>/<task>.yaml (default: configs/)");
  cmd->add_option("--seeds", args->run.seeds, "Suite: seeds for every task (overrides the configs'): 1,2,3 or 1 2 3")
      ->delimiter(',');
  cmd->add_option("--shard", args->run.shard,
                  "Suite: I/N runs the I-th (0-based) of N shares of the (task, seed) list, each in "
                  "OUTPUT/<task>/seed-<S> (e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)");
  cmd->add_option("--emit", args->emit,
                  "Suite: print an sbatch job-array script that runs every (task, seed) as one array task, instead of "
                  "running them")
      ->check(CLI::IsMember({"slurm"}));
  cmd->add_option("--nproc", args->nproc,
                  "Start N local ranks of this command (data-parallel; train.batch_size stays the global batch)")
      ->check(within(int64_t{1}, limits::kProcesses));
  cmd->add_option("--dist-backend", args->run.dist.backend, "Data-parallel backend: auto | gloo | nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  cmd->add_option("--dist-timeout", args->run.dist.timeout_s,
                  "Seconds a rank waits for the others (rendezvous, each collective) before it stops with an error")
      ->check(at_most(limits::kTimeoutSeconds))
      ->check(CLI::PositiveNumber);
  cmd->callback([args] {
    if (!args->run.shard.empty() && args->run.suite.empty()) throw std::invalid_argument("--shard I/N needs --suite");
    if (!args->emit.empty() && args->run.suite.empty()) throw std::invalid_argument("--emit slurm needs --suite");
    if (!args->run.dump_config && launch_nproc(args->nproc, args->run.dist.timeout_s)) return;
    args->run.suite.empty() ? run_finetune(*args) : finetune_suite(*args);
  });
}

}  // namespace electra::cli
