// electra score: scores a predictions file against a dataset file in its upstream format, like the official
// evaluation scripts, and prints one JSON object of metrics.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tasks/scoring.h"

namespace electra::cli {
namespace {

struct ScoreOptions {
  std::string task;
  std::string gold;
  std::string predictions;
  bool skip_bad_rows = false;
};

void run_score(const ScoreOptions& o) {
  ReadOptions read_options;
  read_options.skip_bad_rows = o.skip_bad_rows;
  read_options.skip_hint = "use --skip-bad-rows";
  const ScoreReport report = score_prediction_file(find_task(o.task), o.gold, o.predictions, read_options);
  for (const auto& w : report.warnings) fmt::print(stderr, "warning: {}\n", w);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : report.metrics) out[name] = value;
  fmt::print("{}\n", out.dump());
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreOptions>();
  auto* cmd = app.add_subcommand("score", "Score predictions against a dataset file, like the official scripts");
  cmd->add_option("--task", options->task, "Task name (see `electra tasks`)")->required();
  cmd->add_option("--gold", options->gold, "Dataset file in its upstream format")->required()->check(CLI::ExistingFile);
  cmd->add_option("--predictions", options->predictions,
                  "QA: JSON object {question id: answer}; otherwise one prediction per line in file order")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--skip-bad-rows", options->skip_bad_rows, "Skip (and count) bad rows of the gold file instead of failing");
  cmd->callback([options] { run_score(*options); });
}

}  // namespace electra::cli
