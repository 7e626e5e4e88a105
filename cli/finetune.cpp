// `electra finetune`: resolves an experiment (YAML config + flags), its model and data, and runs the trainer.
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/files.h"
#include "dist/environment.h"
#include "dist/launch.h"
#include "hub/hub.h"
#include "leaderboard/leaderboard.h"
#include "tasks/task.h"
#include "train/options.h"
#include "train/run_dir.h"
#include "train/trainer.h"

namespace electra::cli {
namespace {

namespace fs = std::filesystem;

struct FinetuneArgs {
  std::string config;
  std::string model;
  std::string data_dir;
  std::string output_dir;
  std::vector<std::string> sets;
  bool dump_config = false;
  std::string device;
  std::string resume;
  int64_t stop_after = 0;
  std::string suite;              // korean | glue: every task config of configs/<suite>/
  std::string configs_dir;        // holds <suite>/<task>.yaml; default: the source tree's configs/
  std::vector<int64_t> seeds;     // suite: overrides every config's seeds
  bool offline = false;           // download nothing: hub cache and data dir only
  std::string data_sources;       // URL table for task data; default: configs/data_sources.yaml
  int nproc = 1;                  // > 1: start this many local ranks of this command (data-parallel)
  DistOptions dist;               // backend and timeout of the data-parallel group
  std::string shard;              // suite: "I/N", run the I-th of N shares of the (task, seed) list
  std::string emit;               // suite: "slurm" prints an sbatch job-array script instead of running
};

// `cache_only`: a rank that takes the model and data from the caches its machine's local rank 0 filled.
HubOptions hub_options(const FinetuneArgs& args, bool cache_only = false) {
  HubOptions options = HubOptions::from_environment();
  if (args.offline || cache_only) options.offline = true;
  return options;
}

DataOptions data_options(const FinetuneArgs& args, bool cache_only = false) {
  DataOptions options;
  options.offline = args.offline || cache_only;
  options.sources_file = args.data_sources;
  return options;
}

// Loads an experiment config and shows what loading it noticed (a section given twice, ...), once per job.
ExperimentOptions load_config(const fs::path& file) {
  ExperimentOptions options = load_experiment(file, {});
  if (read_dist_env().rank == 0)
    for (const auto& w : options.warnings) fmt::print(stderr, "electra: warning: {}\n", w);
  return options;
}

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
  ExperimentOptions options = load_config(file);
  // Flags typed on the command line override the file; they use the same keys as --set.
  if (!args.model.empty()) options.model = args.model;
  if (!args.data_dir.empty()) options.data.data_dir = args.data_dir;
  if (!args.output_dir.empty()) options.output_dir = args.output_dir;
  if (!args.device.empty()) options.device = args.device;
  for (const auto& s : args.sets) apply_setting(options, s);
  if (!args.resume.empty()) options.output_dir = args.resume;
  validate(options);
  return options;
}

void run_finetune(const FinetuneArgs& args) {
  ExperimentOptions options = resolve_options(args);
  const Task& task = find_task(options.task);
  if (args.dump_config) {
    fmt::print("{}", to_yaml(options));
    return;
  }
  RunControl control;
  const DistEnv env = read_dist_env();
  control.comm = connect(env, args.dist, options.device == "cuda");
  const bool fetch_data = options.data.data_dir.empty();
  fetch_once_per_machine(env, control.comm.get(), [&](bool cache_only) {
    control.model_dir = resolve_model(options.model, hub_options(args, cache_only));
    if (fetch_data) {
      options.data.data_dir = ensure_task_data(task.name(), default_data_dir(), data_options(args, cache_only)).dir.string();
    }
  });
  control.resume = !args.resume.empty();
  control.stop_after_steps = args.stop_after;
  const auto outcomes = run_experiment(task, options, control);
  std::fflush(stderr);
  if (read_dist_env().rank != 0) return;
  for (const auto& o : outcomes) {
    if (!o.finished) continue;
    fmt::print("{}: {} {} = {:.2f} (steps {})\n", o.run_dir.string(), o.split, task.main_metric(),
               o.reported.count("main") ? o.reported.at("main") : 0.0, o.steps);
  }
}

// The suite's configs in the table's task order.
std::vector<fs::path> suite_configs(const fs::path& configs_dir, const std::string& suite) {
  const fs::path dir = configs_dir / suite;
  if (!fs::is_directory(dir)) {
    throw std::invalid_argument(fmt::format("unknown suite '{}': no folder {} (known: korean, glue)", suite, dir.string()));
  }
  std::vector<fs::path> out;
  for (const auto& task : task_names()) {
    const fs::path file = dir / (task + ".yaml");
    if (fs::exists(file)) out.push_back(file);
  }
  if (out.empty()) throw std::invalid_argument(fmt::format("{} holds no task configs", dir.string()));
  return out;
}

// Whether the suite's ranks run on CUDA (the device of --device, else of the first config): picks the backend.
bool suite_on_cuda(const FinetuneArgs& args, const std::vector<fs::path>& files) {
  if (!args.device.empty()) return args.device == "cuda";
  ExperimentOptions options = load_experiment(files.front(), {});
  for (const auto& s : args.sets) apply_setting(options, s);
  return options.device == "cuda";
}

bool finished(const fs::path& dir) { return fs::exists(dir / "results.json") || fs::exists(dir / "summary.json"); }

// One task of a suite: its config with the suite's flags applied, its run directory out/<task>.
ExperimentOptions suite_options(const FinetuneArgs& args, const fs::path& file, const fs::path& out,
                                bool cache_only = false) {
  ExperimentOptions options = load_config(file);
  const Task& task = find_task(options.task);
  options.model = args.model;
  options.output_dir = (out / task.name()).string();
  options.data.data_dir = args.data_dir.empty()
                              ? ensure_task_data(task.name(), default_data_dir(), data_options(args, cache_only)).dir.string()
                              : (fs::path(args.data_dir) / task.name()).string();
  if (!args.device.empty()) options.device = args.device;
  if (!args.seeds.empty()) options.seeds = args.seeds;
  for (const auto& s : args.sets) apply_setting(options, s);
  validate(options);
  return options;
}

// --shard I/N: the I-th of N shares of the suite's (task, seed) list, each pair one run in out/<task>/seed-<S>.
// The shares together hold every pair once; `electra eval --leaderboard SUITE OUT` collects them afterwards.
void run_suite_shard(const FinetuneArgs& args, const std::vector<fs::path>& files, const fs::path& out) {
  const auto [index, shares] = parse_shard(args.shard);
  const DistEnv env = read_dist_env();
  const std::shared_ptr<Communicator> comm =
      args.dump_config ? nullptr : connect(env, args.dist, suite_on_cuda(args, files));
  std::vector<std::pair<ExperimentOptions, int64_t>> pairs;
  fs::path model_dir;
  fetch_once_per_machine(env, comm.get(), [&](bool cache_only) {
    pairs.clear();
    for (const auto& file : files) {
      const ExperimentOptions options = suite_options(args, file, out, cache_only);
      for (const int64_t seed : options.seeds) pairs.emplace_back(options, seed);
    }
    if (!args.dump_config) model_dir = resolve_model(args.model, hub_options(args, cache_only));
  });
  const auto mine = share_of(pairs.size(), index, shares);
  for (const size_t i : mine) {
    ExperimentOptions options = pairs[i].first;
    const int64_t seed = pairs[i].second;
    options.seeds = {seed};
    options.output_dir = (out / options.task / fmt::format("seed-{}", seed)).string();
    if (args.dump_config) {
      fmt::print("# shard {}/{}: task {} seed {}\n{}", index, shares, options.task, seed, to_yaml(options));
      continue;
    }
    if (finished(options.output_dir)) {
      fmt::print(stderr, "{} seed {}: already finished in {}\n", options.task, seed, options.output_dir);
      continue;
    }
    RunControl control;
    control.model_dir = model_dir;
    control.resume = fs::exists(RunDirectory(options.output_dir).state_file());
    control.comm = comm;
    if (env.rank == 0) fmt::print(stderr, "== {} seed {} (shard {}/{})\n", options.task, seed, index, shares);
    run_experiment(find_task(options.task), options, control);
  }
  if (args.dump_config || env.rank != 0) return;
  fmt::print("shard {}/{} of suite {}: {} of {} (task, seed) runs in {}; once every shard is done: electra eval "
             "--leaderboard {} {}\n",
             index, shares, args.suite, mine.size(), pairs.size(), out.string(), args.suite, out.string());
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// --emit slurm: an sbatch script whose job array runs the suite's (task, seed) pairs, one per array task, through
// --shard $SLURM_ARRAY_TASK_ID/N with the same flags.
void emit_slurm(const FinetuneArgs& args, const std::vector<fs::path>& files, const fs::path& out) {
  size_t pairs = 0;
  for (const auto& file : files) {
    ExperimentOptions options = load_experiment(file, {});
    if (!args.seeds.empty()) options.seeds = args.seeds;
    for (const auto& s : args.sets) apply_setting(options, s);
    pairs += options.seeds.size();
  }
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  const fs::path output = fs::absolute(out);
  const std::string model = fs::exists(args.model) ? fs::absolute(args.model).string() : args.model;
  std::string command = fmt::format("{} finetune --suite {} --model {} --output-dir {}", shell_quote(exe.string()),
                                    args.suite, shell_quote(model), shell_quote(output.string()));
  if (!args.data_dir.empty()) command += " --data-dir " + shell_quote(fs::absolute(args.data_dir).string());
  if (!args.configs_dir.empty()) command += " --configs-dir " + shell_quote(fs::absolute(args.configs_dir).string());
  if (!args.data_sources.empty()) command += " --data-sources " + shell_quote(fs::absolute(args.data_sources).string());
  if (!args.device.empty()) command += " --device " + args.device;
  if (args.offline) command += " --offline";
  if (!args.seeds.empty()) {
    std::string seeds;
    for (const int64_t seed : args.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(seed);
    command += " --seeds " + seeds;
  }
  for (const auto& s : args.sets) command += " --set " + shell_quote(s);
  fmt::print("#!/bin/bash\n"
             "# electra finetune --suite {}: {} (task, seed) runs, one per array task, into {}.\n"
             "# Submit: mkdir -p {} && sbatch THIS_FILE (Slurm writes the logs there); afterwards:\n"
             "#   electra eval --leaderboard {} {}\n"
             "#SBATCH --job-name=electra-{}\n"
             "#SBATCH --array=0-{}\n"
             "#SBATCH --ntasks=1\n"
             "#SBATCH --output={}/slurm-%A_%a.log\n"
             "set -euo pipefail\n"
             "exec {} --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\"\n",
             args.suite, pairs, output.string(), shell_quote(output.string()), args.suite, shell_quote(output.string()),
             args.suite, pairs - 1,
             output.string(), command, pairs);
}

void run_suite(const FinetuneArgs& args) {
  if (!args.config.empty() || !args.resume.empty()) {
    throw std::invalid_argument("--suite runs the suite's own configs: drop --config / --resume (an interrupted suite "
                                "resumes when rerun with the same --output-dir)");
  }
  if (args.model.empty()) throw std::invalid_argument("--suite needs --model PATH_OR_HUB_ID");
  const fs::path configs = args.configs_dir.empty() ? fs::path(ELECTRA_SOURCE_DIR) / "configs" : fs::path(args.configs_dir);
  const fs::path out = args.output_dir.empty() ? fs::path("runs") / args.suite : fs::path(args.output_dir);
  const auto files = suite_configs(configs, args.suite);
  if (!args.emit.empty()) {
    if (!args.shard.empty()) throw std::invalid_argument("--emit slurm writes its own --shard: drop --shard");
    emit_slurm(args, files, out);
    return;
  }
  if (!args.shard.empty()) {
    run_suite_shard(args, files, out);
    return;
  }
  const DistEnv env = read_dist_env();
  const std::shared_ptr<Communicator> comm =
      args.dump_config ? nullptr : connect(env, args.dist, suite_on_cuda(args, files));
  std::vector<ExperimentOptions> suite;
  fs::path model_dir;
  fetch_once_per_machine(env, comm.get(), [&](bool cache_only) {
    suite.clear();
    for (const auto& file : files) suite.push_back(suite_options(args, file, out, cache_only));
    if (!args.dump_config) model_dir = resolve_model(args.model, hub_options(args, cache_only));
  });
  std::vector<fs::path> run_dirs;
  for (size_t i = 0; i < files.size(); ++i) {
    const ExperimentOptions& options = suite[i];
    const Task& task = find_task(options.task);
    run_dirs.push_back(options.output_dir);
    if (args.dump_config) {
      fmt::print("# {}\n{}", files[i].string(), to_yaml(options));
      continue;
    }
    if (finished(options.output_dir)) {
      fmt::print(stderr, "{}: already finished in {}\n", task.name(), options.output_dir);
      continue;
    }
    RunControl control;
    control.model_dir = model_dir;
    // A task interrupted earlier continues from its training state.
    control.resume = options.seeds.size() > 1 || fs::exists(RunDirectory(options.output_dir).state_file());
    control.comm = comm;
    if (env.rank == 0) fmt::print(stderr, "== {} ({})\n", task.name(), files[i].string());
    run_experiment(task, options, control);
  }
  if (args.dump_config || env.rank != 0) return;
  write_suite_leaderboard(args.suite, run_dirs, out);
  fmt::print("suite {}: {} tasks; leaderboard written to {}\n", args.suite, run_dirs.size(),
             (out / fmt::format("leaderboard_{}.md", args.suite)).string());
  fmt::print("{}", read_file(out / fmt::format("leaderboard_{}.md", args.suite)));
}

}  // namespace

void add_finetune_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("finetune", "Fine-tune a model on a task from a YAML experiment config");
  auto args = std::make_shared<FinetuneArgs>();
  cmd->add_option("--config", args->config, "Experiment YAML (configs/korean/*.yaml, configs/glue/*.yaml, ...)");
  cmd->add_option("--model", args->model, "Model directory or hub id (overrides `model`)");
  cmd->add_option("--data-dir", args->data_dir,
                  "Folder with the task's upstream files (overrides `data.data_dir`); with --suite, the folder "
                  "holding one <task>/ folder per task");
  cmd->add_option("--output-dir", args->output_dir, "Run directory (overrides `output_dir`)");
  cmd->add_flag("--offline", args->offline,
                "Download nothing: the model from a local folder or the hub cache, task data from the data folder "
                "(missing files are an error naming them)");
  cmd->add_option("--data-sources", args->data_sources,
                  "URL table used to fetch missing task data (default: configs/data_sources.yaml)");
  cmd->add_option("--set", args->sets, "Override one key: --set optimizer.learning_rate=3e-5 (repeatable)");
  cmd->add_flag("--dump-config", args->dump_config, "Print the resolved config as YAML and exit");
  cmd->add_option("--device", args->device, "cpu | cuda | auto (overrides `device`)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  cmd->add_option("--resume", args->resume, "Continue the interrupted run in RUN_DIR");
  cmd->add_option("--stop-after", args->stop_after, "Save and stop after this step (resume later with --resume)")
      ->check(step_number());
  cmd->add_option("--suite", args->suite, "Run every task config of a suite, then write its leaderboard")
      ->check(CLI::IsMember({"korean", "glue"}));
  cmd->add_option("--configs-dir", args->configs_dir, "Suite: folder holding <suite>/<task>.yaml (default: configs/)");
  cmd->add_option("--seeds", args->seeds, "Suite: seeds for every task (overrides the configs'): 1,2,3 or 1 2 3")
      ->delimiter(',');
  cmd->add_option("--shard", args->shard,
                  "Suite: I/N runs the I-th (0-based) of N shares of the (task, seed) list, each in "
                  "OUTPUT/<task>/seed-<S> (e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)");
  cmd->add_option("--emit", args->emit,
                  "Suite: print an sbatch job-array script that runs every (task, seed) as one array task, instead of "
                  "running them")
      ->check(CLI::IsMember({"slurm"}));
  cmd->add_option("--nproc", args->nproc,
                  "Start N local ranks of this command (data-parallel; train.batch_size stays the global batch)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--dist-backend", args->dist.backend, "Data-parallel backend: auto | gloo | nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  cmd->add_option("--dist-timeout", args->dist.timeout_s,
                  "Seconds a rank waits for the others (rendezvous, each collective) before it stops with an error")
      ->check(CLI::PositiveNumber);
  cmd->callback([args] {
    if (!args->shard.empty() && args->suite.empty()) throw std::invalid_argument("--shard I/N needs --suite");
    if (!args->emit.empty() && args->suite.empty()) throw std::invalid_argument("--emit slurm needs --suite");
    if (args->nproc > 1 && !launched_rank() && !args->dump_config) {
      if (read_dist_env().distributed()) {
        throw std::invalid_argument("--nproc starts its own ranks: do not combine it with torchrun or srun");
      }
      LaunchOptions launch;
      launch.nproc = args->nproc;
      launch.timeout_s = args->dist.timeout_s;
      launch_local_ranks(own_arguments(), launch);
      return;
    }
    args->suite.empty() ? run_finetune(*args) : run_suite(*args);
  });
}

}  // namespace electra::cli
