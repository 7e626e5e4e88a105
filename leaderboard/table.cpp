#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <stdexcept>

#include "leaderboard/leaderboard.h"

namespace electra {
namespace {

constexpr int kOurDecimals = 2;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

// The rounded value a reader sees: ties in bold are judged on what is shown.
double shown(const Score& score) { return std::stod(format_fixed(score.value, score.decimals)); }

struct SeedRun {
  const RunResult* run;
  double main;
  std::optional<double> secondary;
};

double metric_of(const RunResult& run, const SplitMetrics& metrics, const std::string& key,
                 const LeaderboardSpec& spec, const LeaderboardColumn& column) {
  const auto it = metrics.find(key);
  if (it == metrics.end()) {
    const std::string where = &metrics == &run.metrics ? "metrics" : "split_metrics." + column.split;
    throw std::runtime_error(fmt::format("{}: key '{}.{}': missing (the {} leaderboard's {} column needs it)",
                                         run.file.string(), where, key, spec.name, column.task));
  }
  return it->second;
}

void mark_best(std::vector<LeaderboardRow>& rows, const LeaderboardSpec& spec) {
  for (const auto& column : spec.columns) {
    std::optional<double> best;
    for (const auto& row : rows)
      if (auto it = row.cells.find(column.task); it != row.cells.end())
        best = std::max(best.value_or(-1e300), shown(it->second.main));
    for (auto& row : rows)
      if (auto it = row.cells.find(column.task); it != row.cells.end()) it->second.best = shown(it->second.main) == *best;
  }
  std::optional<double> best_avg;
  for (const auto& row : rows)
    if (row.avg) best_avg = std::max(best_avg.value_or(-1e300), shown(*row.avg));
  for (auto& row : rows) row.avg_best = row.avg && shown(*row.avg) == *best_avg;
}

}  // namespace

std::string normalize_task_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
    return c == '_' ? '-' : static_cast<char>(std::tolower(c));
  });
  return name;
}

std::string format_fixed(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  // Nudge by far less than any real difference so that 80.265 (stored as 80.26499999...) rounds up.
  const double scaled = value * scale;
  double rounded = std::round(scaled + std::copysign(1e-7, scaled));
  if (rounded == 0.0) rounded = 0.0;  // no "-0.00"
  return fmt::format("{:.{}f}", rounded / scale, decimals);
}

std::string format_params(int64_t params) {
  if (params >= 1'000'000) return fmt::format("{}M", std::llround(static_cast<double>(params) / 1e6));
  if (params >= 1'000) return fmt::format("{}K", std::llround(static_cast<double>(params) / 1e3));
  return std::to_string(params);
}

LeaderboardTable build_leaderboard(const LeaderboardSpec& spec, const std::vector<RunResult>& runs,
                                   const LeaderboardOptions& options) {
  LeaderboardTable table;
  table.spec = spec;
  table.compare = options.compare;

  for (const auto& published : spec.published) {
    LeaderboardRow row;
    row.name = published.name;
    row.params_text = published.params_text;
    row.link = published.link;
    row.source = published.source;
    for (const auto& [task, score] : published.scores) {
      LeaderboardCell cell;
      cell.main = score;
      cell.min = cell.max = score.value;
      if (auto it = published.secondary.find(task); it != published.secondary.end()) cell.secondary = it->second;
      row.cells[task] = cell;
    }
    row.avg = published.avg;
    row.avg_published = published.avg.has_value();
    if (!row.avg && row.cells.size() == spec.columns.size()) {
      double sum = 0.0;
      for (const auto& [task, cell] : row.cells) sum += cell.main.value;
      row.avg = Score{sum / static_cast<double>(row.cells.size()), kOurDecimals};
    }
    table.rows.push_back(std::move(row));
  }

  std::map<std::string, const LeaderboardColumn*> column_by_name;
  for (const auto& column : spec.columns) {
    column_by_name[column.task] = &column;
    for (const auto& alias : column.aliases) column_by_name[alias] = &column;
  }

  // model -> task -> seed -> run
  std::map<std::string, std::map<std::string, std::map<int64_t, SeedRun>>> grouped;
  for (const auto& run : runs) {
    const auto column_it = column_by_name.find(normalize_task_name(run.task));
    if (column_it == column_by_name.end()) {
      table.notes.push_back(fmt::format("{}: task '{}' is not a column of the {} leaderboard; not shown",
                                        run.file.string(), run.task, spec.name));
      continue;
    }
    const auto& column = *column_it->second;
    const SplitMetrics* metrics = run.metrics_for(column.split);
    if (!metrics) {
      table.notes.push_back(fmt::format("{}: {} was scored on {} only, the column reports {}; not shown",
                                        run.file.string(), column.task, run.split, column.split));
      continue;
    }
    SeedRun seed_run{&run, metric_of(run, *metrics, column.metric, spec, column), std::nullopt};
    if (!column.secondary_metric.empty())
      seed_run.secondary = metric_of(run, *metrics, column.secondary_metric, spec, column);
    auto& seeds = grouped[run.display_name()][column.task];
    const auto [it, inserted] = seeds.emplace(run.seed, seed_run);
    if (inserted) continue;
    const auto& first = it->second;
    if (first.main != seed_run.main || first.secondary != seed_run.secondary)
      throw std::runtime_error(fmt::format(
          "two runs of model '{}', task {}, seed {} disagree: {} gives {} and {} gives {}; pass only one of them",
          run.display_name(), column.task, run.seed, first.run->file.string(), first.main, run.file.string(),
          seed_run.main));
    table.notes.push_back(fmt::format("{} repeats the run in {} (model '{}', task {}, seed {}); counted once",
                                      run.file.string(), first.run->file.string(), run.display_name(), column.task,
                                      run.seed));
  }

  for (const auto& [name, tasks] : grouped) {
    LeaderboardRow row;
    row.name = name;
    row.ours = true;
    std::set<int64_t> params_seen;
    std::set<std::filesystem::path> files;
    for (const auto& column : spec.columns) {
      const auto task_it = tasks.find(column.task);
      if (task_it == tasks.end()) continue;
      std::vector<double> mains, secondaries;
      LeaderboardCell cell;
      for (const auto& [seed, seed_run] : task_it->second) {
        mains.push_back(seed_run.main);
        if (seed_run.secondary) secondaries.push_back(*seed_run.secondary);
        cell.seeds.push_back(seed);
        files.insert(seed_run.run->file);
        if (seed_run.run->params) {
          if (!row.params) row.params = seed_run.run->params;
          params_seen.insert(*seed_run.run->params);
        }
      }
      cell.main = Score{median(mains), kOurDecimals};
      cell.min = *std::min_element(mains.begin(), mains.end());
      cell.max = *std::max_element(mains.begin(), mains.end());
      if (!secondaries.empty()) {
        cell.secondary = Score{median(secondaries), kOurDecimals};
        cell.secondary_min = *std::min_element(secondaries.begin(), secondaries.end());
        cell.secondary_max = *std::max_element(secondaries.begin(), secondaries.end());
      }
      row.cells[column.task] = cell;
    }
    if (row.params) row.params_text = format_params(*row.params);
    if (params_seen.size() > 1) {
      std::string list;
      for (const auto p : params_seen) list += (list.empty() ? "" : ", ") + std::to_string(p);
      table.notes.push_back(fmt::format("{}: the runs give different parameter counts ({}); the table shows {}",
                                        name, list, *row.params));
    }
    row.files.assign(files.begin(), files.end());
    double sum = 0.0;
    for (const auto& [task, cell] : row.cells) sum += cell.main.value;
    const double mean = sum / static_cast<double>(row.cells.size());
    if (row.cells.size() == spec.columns.size())
      row.avg = Score{mean, kOurDecimals};
    else
      row.partial_avg = mean;
    table.rows.push_back(std::move(row));
  }

  if (!options.compare.empty()) {
    const auto against = std::find_if(table.rows.begin(), table.rows.end(),
                                       [&](const LeaderboardRow& r) { return !r.ours && r.name == options.compare; });
    if (against == table.rows.end()) {
      std::string list;
      for (const auto& row : spec.published) list += (list.empty() ? "" : ", ") + row.name;
      throw std::invalid_argument(
          fmt::format("--compare: no published row '{}' in the {} leaderboard (known: {})", options.compare, spec.name, list));
    }
    const LeaderboardRow reference = *against;
    for (auto& row : table.rows) {
      if (!row.ours) continue;
      for (const auto& [task, cell] : row.cells) {
        const auto ref = reference.cells.find(task);
        if (ref == reference.cells.end()) continue;
        row.delta[task] = shown(cell.main) - shown(ref->second.main);
        if (cell.secondary && ref->second.secondary)
          row.delta_secondary[task] = shown(*cell.secondary) - shown(*ref->second.secondary);
      }
      if (row.avg && reference.avg) row.delta_avg = shown(*row.avg) - shown(*reference.avg);
    }
  }
  mark_best(table.rows, spec);
  return table;
}

}  // namespace electra
