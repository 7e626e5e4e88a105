// electra tasks: lists every task with its files per split, labels, head and metrics.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tasks/task.h"

namespace electra::cli {
namespace {

void run_tasks(bool as_json) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& name : task_names()) {
    const Task& t = find_task(name);
    if (as_json) {
      nlohmann::json files = nlohmann::json::object();
      for (const auto& [split, names] : t.files()) files[to_string(split)] = names;
      all.push_back({{"name", t.name()},
                     {"description", t.description()},
                     {"head", to_string(t.head())},
                     {"files", files},
                     {"labels", t.labels()},
                     {"metrics", t.metric_names()},
                     {"main_metric", t.main_metric()}});
      continue;
    }
    fmt::print("{}\n  {}\n  head: {}\n", t.name(), t.description(), to_string(t.head()));
    for (const auto& [split, names] : t.files()) fmt::print("  {}: {}\n", to_string(split), fmt::join(names, ", "));
    const auto labels = t.labels();
    fmt::print("  labels: {}\n", labels.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(labels, " ")));
    fmt::print("  metrics: {} (main: {})\n\n", fmt::join(t.metric_names(), ", "), t.main_metric());
  }
  if (as_json) fmt::print("{}\n", all.dump(2));
}

}  // namespace

void add_tasks_command(CLI::App& app) {
  auto as_json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("tasks", "List the tasks with their files, labels, head and metrics");
  cmd->add_flag("--json", *as_json, "Print a JSON array instead of text");
  cmd->callback([as_json] { run_tasks(*as_json); });
}

}  // namespace electra::cli
