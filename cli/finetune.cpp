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
#include "hub/hub.h"
#include "tasks/task.h"
#include "train/options.h"
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
  ExperimentOptions options = load_experiment(file, {});
  // Flags typed on the command line override the file; they use the same keys as --set.
  if (!args.model.empty()) options.model = args.model;
  if (!args.data_dir.empty()) options.data.data_dir = args.data_dir;
  if (!args.output_dir.empty()) options.output_dir = args.output_dir;
  if (!args.device.empty()) options.device = args.device;
  for (const auto& s : args.sets) apply_setting(options, s);
  if (!args.resume.empty()) options.output_dir = args.resume;
  validate(options);
  find_task(options.task);
  return options;
}

void run_finetune(const FinetuneArgs& args) {
  ExperimentOptions options = resolve_options(args);
  if (args.dump_config) {
    fmt::print("{}", to_yaml(options));
    return;
  }
  RunControl control;
  control.model_dir = resolve_model(options.model, HubOptions::from_environment());
  if (options.data.data_dir.empty()) {
    const auto manifest = ensure_task_data(find_task(options.task).name(), default_data_dir(), DataOptions{});
    options.data.data_dir = manifest.dir.string();
  }
  control.resume = !args.resume.empty();
  control.stop_after_steps = args.stop_after;
  const auto outcomes = run_experiment(options, control);
  std::fflush(stderr);
  for (const auto& o : outcomes) {
    if (!o.finished) continue;
    fmt::print("{}: {} {} = {:.2f} (steps {})\n", o.run_dir.string(), o.split, find_task(options.task).main_metric(),
               o.reported.count("main") ? o.reported.at("main") : 0.0, o.steps);
  }
}

}  // namespace

void add_finetune_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("finetune", "Fine-tune a model on a task from a YAML experiment config");
  auto args = std::make_shared<FinetuneArgs>();
  cmd->add_option("--config", args->config, "Experiment YAML (configs/korean/*.yaml, configs/glue/*.yaml, ...)");
  cmd->add_option("--model", args->model, "Model directory or hub id (overrides `model`)");
  cmd->add_option("--data-dir", args->data_dir, "Folder with the task's upstream files (overrides `data.data_dir`)");
  cmd->add_option("--output-dir", args->output_dir, "Run directory (overrides `output_dir`)");
  cmd->add_option("--set", args->sets, "Override one key: --set optimizer.learning_rate=3e-5 (repeatable)");
  cmd->add_flag("--dump-config", args->dump_config, "Print the resolved config as YAML and exit");
  cmd->add_option("--device", args->device, "cpu | cuda | auto (overrides `device`)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  cmd->add_option("--resume", args->resume, "Continue the interrupted run in RUN_DIR");
  // Hidden: save the training state and stop after this step (resume tests).
  cmd->add_option("--stop-after", args->stop_after)->group("")->check(CLI::NonNegativeNumber);
  cmd->callback([args] { run_finetune(*args); });
}

}  // namespace electra::cli
