#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "common/files.h"
#include "common/yaml_file.h"
#include "leaderboard/leaderboard.h"
#include "metrics/metric_names.h"
#include "common/source_dir.h"

namespace electra {
namespace {

// A published number keeps its written precision: "64.50" has two decimals.
Score score_at(const YamlReader& yaml, const YAML::Node& node, const std::string& key, const std::string& text) {
  static const std::string digits = "0123456789";
  const auto dot = text.find('.');
  if (text.empty() || text.find_first_not_of(digits + ".-") != std::string::npos)
    yaml.fail(node, key, fmt::format("expected a number, got '{}'", text));
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value))
    yaml.fail(node, key, fmt::format("expected a number, got '{}'", text));
  Score score;
  score.value = value;
  score.decimals = dot == std::string::npos ? 0 : static_cast<int>(text.size() - dot - 1);
  return score;
}

Score score_at(const YamlReader& yaml, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) yaml.fail(node, key, "expected a number");
  return score_at(yaml, node, key, node.Scalar());
}

std::string split_at(const YamlReader& yaml, const YAML::Node& node, const std::string& key) {
  const auto split = yaml.string_at(node, key);
  if (split != "dev" && split != "test") yaml.fail(node, key, fmt::format("expected dev or test, got '{}'", split));
  return split;
}

}  // namespace

LeaderboardSpec load_leaderboard_spec(const std::filesystem::path& file) {
  const YAML::Node root = load_yaml_file(file);
  const YamlReader yaml(file);
  yaml.check_keys(root, "", {"name", "title", "average", "columns", "published"});
  LeaderboardSpec spec;
  spec.file = file;
  spec.name = yaml.string_at(yaml.require(root, "", "name"), "name");
  spec.title = yaml.string_at(yaml.require(root, "", "title"), "title");

  const auto average = yaml.require(root, "", "average");
  yaml.check_keys(average, "average", {"rule", "note"});
  const auto rule = yaml.require(average, "average", "rule");
  spec.average_rule = yaml.string_at(rule, "average.rule");
  if (spec.average_rule != "mean_of_main")
    yaml.fail(rule, "average.rule", fmt::format("unknown rule '{}' (known: mean_of_main)", spec.average_rule));
  spec.average_note = yaml.optional_string(average, "average", "note");

  const auto columns = yaml.require(root, "", "columns");
  if (!columns.IsSequence() || columns.size() == 0) yaml.fail(columns, "columns", "expected a non-empty list");
  std::set<std::string> task_names;
  for (size_t i = 0; i < columns.size(); ++i) {
    const auto node = columns[i];
    const auto where = fmt::format("columns[{}]", i);
    yaml.check_keys(node, where,
                    {"task", "aliases", "header", "metric_label", "metric", "secondary_metric", "split", "split_note"});
    LeaderboardColumn column;
    column.task = yaml.string_at(yaml.require(node, where, "task"), where + ".task");
    if (normalize_task_name(column.task) != column.task)
      yaml.fail(node["task"], where + ".task", fmt::format("'{}' is not canonical (lower case, '-')", column.task));
    if (const auto aliases = node["aliases"]) {
      for (const auto& alias : yaml.strings_at(aliases, where + ".aliases", "a list of task names"))
        column.aliases.push_back(normalize_task_name(alias));
    }
    column.header = yaml.string_at(yaml.require(node, where, "header"), where + ".header");
    column.metric_label = yaml.string_at(yaml.require(node, where, "metric_label"), where + ".metric_label");
    column.metric = yaml.string_at(yaml.require(node, where, "metric"), where + ".metric");
    column.secondary_metric = yaml.optional_string(node, where, "secondary_metric");
    column.split = split_at(yaml, yaml.require(node, where, "split"), where + ".split");
    column.split_note = yaml.optional_string(node, where, "split_note");
    std::set<std::string> names(column.aliases.begin(), column.aliases.end());
    names.insert(column.task);
    for (const auto& name : names)
      if (!task_names.insert(name).second)
        yaml.fail(node, where, fmt::format("task name '{}' used by two columns", name));
    spec.columns.push_back(std::move(column));
  }

  const auto published = yaml.require(root, "", "published");
  if (!published.IsSequence()) yaml.fail(published, "published", "expected a list of rows");
  std::set<std::string> row_names;
  for (size_t i = 0; i < published.size(); ++i) {
    const auto node = published[i];
    const auto where = fmt::format("published[{}]", i);
    yaml.check_keys(node, where, {"name", "params", "avg", "link", "source", "scores"});
    PublishedRow row;
    row.name = yaml.string_at(yaml.require(node, where, "name"), where + ".name");
    if (!row_names.insert(row.name).second) yaml.fail(node, where + ".name", fmt::format("duplicate row '{}'", row.name));
    row.params_text = yaml.string_at(yaml.require(node, where, "params"), where + ".params");
    row.link = yaml.optional_string(node, where, "link");
    row.source = yaml.string_at(yaml.require(node, where, "source"), where + ".source");
    const auto scores = yaml.require(node, where, "scores");
    std::set<std::string> known;
    for (const auto& column : spec.columns) known.insert(column.task);
    yaml.check_keys(scores, where + ".scores", known);
    for (const auto& column : spec.columns) {
      const auto cell = scores[column.task];
      if (!cell) continue;
      const auto key = fmt::format("{}.scores.{}", where, column.task);
      if (!cell.IsScalar()) yaml.fail(cell, key, "expected a number");
      const auto text = cell.Scalar();
      // A published score lies in its metric's range (x100), as a run's does.
      const auto in_range = [&](const Score& score, const std::string& metric) {
        if (const auto range = metrics::metric_range(metric);
            range && (score.value < range->low || score.value > range->high))
          yaml.fail(cell, key, fmt::format("{} is outside {}'s range [{}, {}] (scores are x100)", score.value, metric,
                                           range->low, range->high));
        return score;
      };
      if (column.secondary_metric.empty()) {
        row.scores[column.task] = in_range(score_at(yaml, cell, key, text), column.metric);
        continue;
      }
      const auto slash = text.find('/');
      if (slash == std::string::npos)
        yaml.fail(cell, key, fmt::format("expected '{} / {}', got '{}'", column.secondary_metric, column.metric, text));
      auto trim = [](std::string s) {
        s.erase(0, s.find_first_not_of(' '));
        s.erase(s.find_last_not_of(' ') + 1);
        return s;
      };
      row.secondary[column.task] = in_range(score_at(yaml, cell, key, trim(text.substr(0, slash))), column.secondary_metric);
      row.scores[column.task] = in_range(score_at(yaml, cell, key, trim(text.substr(slash + 1))), column.metric);
    }
    if (const auto avg = node["avg"]) {
      row.avg = score_at(yaml, avg, where + ".avg");
      if (row.scores.size() != spec.columns.size())
        yaml.fail(avg, where + ".avg", "an Avg. needs a score in every column");
      double sum = 0.0;
      for (const auto& [task, score] : row.scores) sum += score.value;
      const auto computed = format_fixed(sum / static_cast<double>(row.scores.size()), row.avg->decimals);
      if (computed != format_fixed(row.avg->value, row.avg->decimals))
        yaml.fail(avg, where + ".avg",
                  fmt::format("{} disagrees with the mean of the row's scores, {}", format_fixed(row.avg->value, row.avg->decimals), computed));
    }
    spec.published.push_back(std::move(row));
  }
  return spec;
}

LeaderboardSpec find_leaderboard_spec(const std::string& name_or_file) {
  namespace fs = std::filesystem;
  const fs::path as_path(name_or_file);
  if (as_path.extension() == ".yaml" || as_path.extension() == ".yml" || name_or_file.find('/') != std::string::npos)
    return load_leaderboard_spec(as_path);
  const std::vector<fs::path> roots = {fs::current_path() / "configs" / "leaderboards",
                                       fs::path(electra::source_dir()) / "configs" / "leaderboards"};
  for (const auto& root : roots) {
    const auto file = root / (name_or_file + ".yaml");
    if (fs::is_regular_file(file)) return load_leaderboard_spec(file);
  }
  std::set<std::string> known;
  for (const auto& root : roots) {
    for (const auto& entry : list_directory(root))
      if (entry.extension() == ".yaml") known.insert(entry.stem().string());
  }
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  throw std::invalid_argument(fmt::format("unknown leaderboard '{}' (known: {}; searched {} and {})", name_or_file,
                                          list.empty() ? "none found" : list, roots[0].string(), roots[1].string()));
}

}  // namespace electra
