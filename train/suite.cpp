#include "train/suite.h"

#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <utility>

#include "common/files.h"
#include "common/folder_lock.h"
#include "common/stop_signal.h"
#include "leaderboard/leaderboard.h"
#include "tasks/task.h"
#include "train/run_dir.h"
#include "train/trainer.h"
#include "common/source_dir.h"

namespace electra {
namespace {

namespace fs = std::filesystem;

fs::path suite_output_dir(const SuiteOptions& suite) {
  return suite.output_dir.empty() ? fs::path("runs") / suite.suite : fs::path(suite.output_dir);
}

// The suite's configs in the table's task order.
std::vector<fs::path> suite_configs(const SuiteOptions& suite) {
  if (suite.model.empty()) throw std::invalid_argument("--suite needs --model PATH_OR_HUB_ID");
  const fs::path configs = suite.configs_dir.empty() ? fs::path(electra::source_dir()) / "configs" : fs::path(suite.configs_dir);
  const fs::path dir = configs / suite.suite;
  if (!fs::is_directory(dir)) {
    throw std::invalid_argument(
        fmt::format("unknown suite '{}': no folder {} (known: korean, glue)", suite.suite, dir.string()));
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
bool suite_on_cuda(const SuiteOptions& suite, const std::vector<fs::path>& files) {
  if (!suite.device.empty()) return suite.device == "cuda";
  ExperimentOptions options = load_experiment(files.front(), {});
  for (const auto& s : suite.sets) apply_setting(options, s);
  return options.device == "cuda";
}

bool run_finished(const fs::path& dir) {
  return fs::exists(dir / "results.json") || fs::exists(dir / "summary.json");
}

// One task of a suite: its config with the suite's options applied, its run directory out/<task>.
ExperimentOptions task_options(const SuiteOptions& suite, const fs::path& file, const fs::path& out, bool cache_only) {
  ExperimentOptions options = load_job_experiment(file);
  const Task& task = find_task(options.task);
  options.model = suite.model;
  options.output_dir = (out / task.name()).string();
  options.data.data_dir =
      suite.data_dir.empty()
          ? ensure_task_data(task.name(), default_data_dir(), data_options(suite, cache_only)).dir.string()
          : (fs::path(suite.data_dir) / task.name()).string();
  if (!suite.device.empty()) options.device = suite.device;
  if (!suite.seeds.empty()) options.seeds = suite.seeds;
  for (const auto& s : suite.sets) apply_setting(options, s);
  validate(options);
  return options;
}

// The I-th of N shares of the suite's (task, seed) list, each pair one run in out/<task>/seed-<S>.
void run_suite_shard(const SuiteOptions& suite, const std::vector<fs::path>& files, const fs::path& out) {
  const auto [index, shares] = parse_shard(suite.shard);
  const DistEnv env = read_dist_env();
  const std::shared_ptr<Communicator> comm =
      suite.dump_config ? nullptr : connect(env, suite.dist, suite_on_cuda(suite, files));
  std::vector<std::pair<ExperimentOptions, int64_t>> pairs;
  fs::path model_dir;
  fetch_once_per_machine(env, comm.get(), [&](bool cache_only) {
    pairs.clear();
    for (const auto& file : files) {
      const ExperimentOptions options = task_options(suite, file, out, cache_only);
      for (const int64_t seed : options.seeds) pairs.emplace_back(options, seed);
    }
    if (!suite.dump_config) model_dir = resolve_model(suite.model, hub_options(suite, cache_only));
  });
  const auto mine = share_of(pairs.size(), index, shares);
  for (const size_t i : mine) {
    ExperimentOptions options = pairs[i].first;
    const int64_t seed = pairs[i].second;
    options.seeds = {seed};
    options.output_dir = (out / options.task / fmt::format("seed-{}", seed)).string();
    if (suite.dump_config) {
      fmt::print("# shard {}/{}: task {} seed {}\n{}", index, shares, options.task, seed, to_yaml(options));
      continue;
    }
    // Shards of one suite run side by side: each holds the folder of its own run.
    const FolderLock lock = env.rank == 0 ? FolderLock::acquire(options.output_dir, "finetune --suite --shard")
                                          : FolderLock();
    if (run_finished(options.output_dir)) {
      fmt::print(stderr, "{} seed {}: already finished in {}\n", options.task, seed, options.output_dir);
      continue;
    }
    RunControl control;
    control.model_dir = model_dir;
    control.force = suite.force;
    control.resume = fs::exists(RunDirectory(options.output_dir).state_file());
    control.comm = comm;
    if (env.rank == 0) fmt::print(stderr, "== {} seed {} (shard {}/{})\n", options.task, seed, index, shares);
    for (const auto& o : run_experiment(find_task(options.task), options, control))
      if (o.stopped_by != 0) throw StoppedBySignal(o.stopped_by);
  }
  if (suite.dump_config || env.rank != 0) return;
  fmt::print("shard {}/{} of suite {}: {} of {} (task, seed) runs in {}; once every shard is done: electra eval "
             "--leaderboard {} {}\n",
             index, shares, suite.suite, mine.size(), pairs.size(), out.string(), suite.suite, out.string());
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

HubOptions hub_options(const SuiteOptions& suite, bool cache_only) {
  HubOptions options = HubOptions::from_environment();
  if (suite.offline || cache_only) options.offline = true;
  return options;
}

DataOptions data_options(const SuiteOptions& suite, bool cache_only) {
  DataOptions options;
  options.offline = suite.offline || cache_only;
  options.data_sources = suite.data_sources;
  return options;
}

ExperimentOptions load_job_experiment(const fs::path& file) {
  ExperimentOptions options = load_experiment(file, {});
  if (read_dist_env().rank == 0)
    for (const auto& w : options.warnings) fmt::print(stderr, "electra: warning: {}\n", w);
  return options;
}

void run_suite(const SuiteOptions& suite) {
  const auto files = suite_configs(suite);
  const fs::path out = suite_output_dir(suite);
  if (!suite.shard.empty()) {
    run_suite_shard(suite, files, out);
    return;
  }
  const DistEnv env = read_dist_env();
  // The whole suite folder, and each task's folder while it runs (so that a sharded run of the same suite collides
  // with this one at its first shared task).
  const bool locks = !suite.dump_config && env.rank == 0;
  const FolderLock suite_lock = locks ? FolderLock::acquire(out, "finetune --suite") : FolderLock();
  const std::shared_ptr<Communicator> comm =
      suite.dump_config ? nullptr : connect(env, suite.dist, suite_on_cuda(suite, files));
  std::vector<ExperimentOptions> tasks;
  fs::path model_dir;
  fetch_once_per_machine(env, comm.get(), [&](bool cache_only) {
    tasks.clear();
    for (const auto& file : files) tasks.push_back(task_options(suite, file, out, cache_only));
    if (!suite.dump_config) model_dir = resolve_model(suite.model, hub_options(suite, cache_only));
  });
  std::vector<fs::path> run_dirs;
  for (size_t i = 0; i < files.size(); ++i) {
    const ExperimentOptions& options = tasks[i];
    const Task& task = find_task(options.task);
    run_dirs.push_back(options.output_dir);
    if (suite.dump_config) {
      fmt::print("# {}\n{}", files[i].string(), to_yaml(options));
      continue;
    }
    const FolderLock lock = locks ? FolderLock::acquire(options.output_dir, "finetune --suite") : FolderLock();
    if (run_finished(options.output_dir)) {
      fmt::print(stderr, "{}: already finished in {}\n", task.name(), options.output_dir);
      continue;
    }
    RunControl control;
    control.model_dir = model_dir;
    control.force = suite.force;
    // A task interrupted earlier continues from its training state.
    control.resume = options.seeds.size() > 1 || fs::exists(RunDirectory(options.output_dir).state_file());
    control.comm = comm;
    if (env.rank == 0) fmt::print(stderr, "== {} ({})\n", task.name(), files[i].string());
    for (const auto& o : run_experiment(task, options, control))
      if (o.stopped_by != 0) throw StoppedBySignal(o.stopped_by);
  }
  if (suite.dump_config || env.rank != 0) return;
  write_suite_leaderboard(suite.suite, run_dirs, out);
  fmt::print("suite {}: {} tasks; leaderboard written to {}\n", suite.suite, run_dirs.size(),
             (out / fmt::format("leaderboard_{}.md", suite.suite)).string());
  fmt::print("{}", read_file(out / fmt::format("leaderboard_{}.md", suite.suite)));
}

std::string slurm_script(const SuiteOptions& suite) {
  const auto files = suite_configs(suite);
  if (!suite.shard.empty()) throw std::invalid_argument("--emit slurm writes its own --shard: drop --shard");
  size_t pairs = 0;
  for (const auto& file : files) {
    ExperimentOptions options = load_experiment(file, {});
    if (!suite.seeds.empty()) options.seeds = suite.seeds;
    for (const auto& s : suite.sets) apply_setting(options, s);
    pairs += options.seeds.size();
  }
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  const fs::path output = fs::absolute(suite_output_dir(suite));
  const std::string model = fs::exists(suite.model) ? fs::absolute(suite.model).string() : suite.model;
  std::string command = fmt::format("{} finetune --suite {} --model {} --output-dir {}", shell_quote(exe.string()),
                                    suite.suite, shell_quote(model), shell_quote(output.string()));
  if (!suite.data_dir.empty()) command += " --data-dir " + shell_quote(fs::absolute(suite.data_dir).string());
  if (!suite.configs_dir.empty()) command += " --configs-dir " + shell_quote(fs::absolute(suite.configs_dir).string());
  if (!suite.data_sources.empty()) command += " --data-sources " + shell_quote(fs::absolute(suite.data_sources).string());
  if (!suite.device.empty()) command += " --device " + suite.device;
  if (suite.offline) command += " --offline";
  if (suite.force) command += " --force";
  if (!suite.seeds.empty()) {
    std::string seeds;
    for (const int64_t seed : suite.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(seed);
    command += " --seeds " + seeds;
  }
  for (const auto& s : suite.sets) command += " --set " + shell_quote(s);
  return fmt::format("#!/bin/bash\n"
                     "# electra finetune --suite {}: {} (task, seed) runs, one per array task, into {}.\n"
                     "# Submit: mkdir -p {} && sbatch THIS_FILE (Slurm writes the logs there); afterwards:\n"
                     "#   electra eval --leaderboard {} {}\n"
                     "# Two minutes before the time limit Slurm sends SIGUSR1 to this script, which passes it on: the run\n"
                     "# saves its state and exits {}, and the array task is requeued; rerun, the same command resumes.\n"
                     "#SBATCH --job-name=electra-{}\n"
                     "#SBATCH --array=0-{}\n"
                     "#SBATCH --ntasks=1\n"
                     "#SBATCH --output={}/slurm-%A_%a.log\n"
                     "#SBATCH --signal=B:USR1@120\n"
                     "#SBATCH --requeue\n"
                     "set -uo pipefail\n"
                     "pid=\n"
                     "trap '[ -n \"$pid\" ] && kill -USR1 \"$pid\"' USR1\n"
                     "trap '[ -n \"$pid\" ] && kill -TERM \"$pid\"' TERM\n"
                     "{} --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\" &\n"
                     "pid=$!\n"
                     "# wait returns early when a trapped signal arrives: wait again until the run has ended.\n"
                     "while true; do wait \"$pid\"; rc=$?; kill -0 \"$pid\" 2>/dev/null || break; done\n"
                     "if [ \"$rc\" -eq {} ]; then\n"
                     "  scontrol requeue \"${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}\"\n"
                     "fi\n"
                     "exit \"$rc\"\n",
                     suite.suite, pairs, output.string(), shell_quote(output.string()), suite.suite,
                     shell_quote(output.string()), kStoppedExitCode, suite.suite, pairs - 1, output.string(), command,
                     pairs, kStoppedExitCode);
}

}  // namespace electra
