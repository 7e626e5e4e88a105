#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <stdexcept>

#include "leaderboard/leaderboard.h"
#include "leaderboard/resampling.h"

namespace electra {
namespace {

constexpr int kOurDecimals = 2;

using metrics::median;

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
  // A median over seeds with an undefined seed would be undefined too; neither dropping the seed nor counting it as
  // a number is honest, so the run is refused by name.
  if (std::isnan(it->second)) {
    const std::string where = &metrics == &run.metrics ? "metrics" : "split_metrics." + column.split;
    throw std::runtime_error(fmt::format(
        "{}: key '{}.{}' is undefined (null: the predictions or the gold scores were constant); the {} leaderboard's "
        "{} column cannot rank seed {}: train it again or leave its folder out",
        run.file.string(), where, key, spec.name, column.task, run.seed));
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

using SeedRuns = std::map<int64_t, SeedRun>;

// Every seed's test predictions of one cell, on the column's split; std::runtime_error says why not.
std::vector<RunPredictions> load_cell(const LeaderboardColumn& column, const SeedRuns& seeds) {
  const Task& task = find_task(column.task);
  std::vector<RunPredictions> out;
  for (const auto& [seed, seed_run] : seeds) {
    if (seed_run.run->file.empty()) throw std::runtime_error("a run without a results.json file");
    out.push_back(load_run_predictions(task, seed_run.run->file, column.split));
    if (out.back().gold_digest != out.front().gold_digest)
      throw std::runtime_error(fmt::format("seeds were scored on different test files ({} and {})",
                                           out.front().gold_files.front().string(), out.back().gold_files.front().string()));
  }
  return out;
}

size_t metric_index(const metrics::ResampledMetrics& m, const std::string& metric) {
  const auto& names = m.names();
  const auto it = std::find(names.begin(), names.end(), metric);
  if (it == names.end()) throw std::runtime_error(fmt::format("the predictions give no metric '{}'", metric));
  return static_cast<size_t>(it - names.begin());
}

// Per resample, the median over the systems [first, last) of replicates[system][metric].
std::vector<double> median_replicates(const std::vector<std::vector<std::vector<double>>>& replicates, size_t first,
                                      size_t last, size_t metric) {
  std::vector<double> out(replicates[first][metric].size());
  std::vector<double> values;
  for (size_t b = 0; b < out.size(); ++b) {
    values.clear();
    for (size_t s = first; s < last; ++s) values.push_back(replicates[s][metric][b]);
    out[b] = median(values);
  }
  return out;
}

std::vector<const metrics::ResampledMetrics*> systems_of(const std::vector<RunPredictions>& runs) {
  std::vector<const metrics::ResampledMetrics*> out;
  for (const auto& r : runs) out.push_back(r.metrics.get());
  return out;
}

// Intervals of one cell of ours (docs/reproduction.md): the bootstrap interval of the median over seeds, widened by
// 1.96 standard deviations of the seeds on each side, added in quadrature.
void add_intervals(LeaderboardCell& cell, const std::vector<double>& mains, const std::vector<RunPredictions>& runs,
                   const std::string& metric, const LeaderboardOptions& options) {
  const metrics::BootstrapOptions bo{options.bootstrap, options.bootstrap_seed, options.confidence};
  const auto replicates = metrics::bootstrap_replicates(systems_of(runs), bo);
  const size_t index = metric_index(*runs.front().metrics, metric);
  const auto test = metrics::percentile_interval(median_replicates(replicates, 0, runs.size(), index), options.confidence);
  if (std::isnan(test.low) || std::isnan(test.high))
    throw std::runtime_error(fmt::format("no interval: {} is undefined (NaN) on some resamples, whose predictions or "
                                         "gold scores are all equal", metric));
  const double m = median(mains);
  const double seed_part = 1.96 * cell.sd;
  cell.test_interval = test;
  cell.interval = metrics::Interval{m - std::hypot(std::max(0.0, m - test.low), seed_part),
                                    m + std::hypot(std::max(0.0, test.high - m), seed_part)};
}

double sample_sd(const std::vector<double>& values) {
  if (values.size() < 2) return 0.0;
  double mean = 0;
  for (const auto v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double ss = 0;
  for (const auto v : values) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / static_cast<double>(values.size() - 1));
}

}  // namespace

std::string to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::reproduced: return "reproduced";
    case Verdict::below: return "below";
    case Verdict::above: return "above";
  }
  return "?";
}

std::string verdict_summary(const LeaderboardRow& row) {
  int judged = 0, reproduced = 0, below = 0, above = 0;
  for (const auto& [task, cell] : row.cells) {
    if (!cell.verdict) continue;
    ++judged;
    reproduced += *cell.verdict == Verdict::reproduced;
    below += *cell.verdict == Verdict::below;
    above += *cell.verdict == Verdict::above;
  }
  if (judged == 0) return "";
  return fmt::format("{} of {} reproduced ({} below, {} above)", reproduced, judged, below, above);
}

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

namespace {

using Grouped = std::map<std::string, std::map<std::string, SeedRuns>>;  // model -> column task -> seed -> run

std::string files_text(const std::vector<RunPredictions>& runs) {
  std::set<std::string> files;
  for (const auto& r : runs)
    for (const auto& f : r.gold_files) files.insert(f.string());
  std::string out;
  for (const auto& f : files) out += (out.empty() ? "" : ", ") + f;
  return out;
}

// --paired: each of our models against each model of the paired runs, on every column both have.
void add_paired(LeaderboardTable& table, const LeaderboardSpec& spec, const Grouped& ours, const LeaderboardOptions& options) {
  if (options.bootstrap <= 0) throw std::invalid_argument("--paired needs --bootstrap N with N > 0");
  Grouped theirs;
  for (const auto& run : options.paired) {
    const auto task = normalize_task_name(run.task);
    for (const auto& column : spec.columns) {
      const bool match = column.task == task ||
                         std::find(column.aliases.begin(), column.aliases.end(), task) != column.aliases.end();
      if (match && run.metrics_for(column.split))
        theirs[run.display_name()][column.task].emplace(run.seed, SeedRun{&run, 0.0, std::nullopt});
    }
  }
  if (theirs.empty()) throw std::invalid_argument("--paired: none of those runs is scored on a column's split of the " + spec.name + " leaderboard");
  for (const auto& [our_name, our_tasks] : ours)
    for (const auto& [their_name, their_tasks] : theirs)
      for (const auto& column : spec.columns) {
        const auto a = our_tasks.find(column.task);
        const auto b = their_tasks.find(column.task);
        if (a == our_tasks.end() || b == their_tasks.end()) continue;
        auto runs = load_cell(column, a->second);
        auto other = load_cell(column, b->second);
        if (runs.front().gold_digest != other.front().gold_digest)
          throw std::invalid_argument(fmt::format(
              "--paired: {} ({}) and {} (--paired) were scored on different test files: {} and {}; a paired comparison "
              "needs the same test examples", our_name, column.task, their_name, files_text(runs), files_text(other)));
        const size_t n_ours = runs.size();
        for (auto& r : other) runs.push_back(std::move(r));
        const metrics::BootstrapOptions bo{options.bootstrap, options.bootstrap_seed, options.confidence};
        const auto replicates = metrics::bootstrap_replicates(systems_of(runs), bo);
        const size_t index = metric_index(*runs.front().metrics, column.metric);
        const auto med_a = median_replicates(replicates, 0, n_ours, index);
        const auto med_b = median_replicates(replicates, n_ours, runs.size(), index);
        std::vector<double> diff(med_a.size());
        size_t at_most_zero = 0, at_least_zero = 0;
        for (size_t i = 0; i < diff.size(); ++i) {
          diff[i] = med_a[i] - med_b[i];
          at_most_zero += diff[i] <= 0;
          at_least_zero += diff[i] >= 0;
        }
        std::vector<double> plain_a, plain_b;
        for (size_t s = 0; s < runs.size(); ++s)
          (s < n_ours ? plain_a : plain_b)
              .push_back(runs[s].metrics->score(metrics::Counts(runs[s].metrics->units(), 1))[index]);
        PairedComparison c;
        c.ours = our_name;
        c.other = their_name;
        c.task = column.task;
        c.metric = column.metric;
        c.seeds_ours = n_ours;
        c.seeds_other = runs.size() - n_ours;
        c.units = runs.front().metrics->units();
        c.difference = median(plain_a) - median(plain_b);
        c.interval = metrics::percentile_interval(diff, options.confidence);
        c.p_value = std::min(1.0, 2.0 * static_cast<double>(std::min(at_most_zero, at_least_zero)) /
                                      static_cast<double>(diff.size()));
        table.paired.push_back(c);
      }
}

}  // namespace

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
  Grouped grouped;
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
      cell.sd = sample_sd(mains);
      if (options.bootstrap > 0) {
        try {
          add_intervals(cell, mains, load_cell(column, task_it->second), column.metric, options);
        } catch (const std::exception& e) {
          table.interval_notes.push_back(fmt::format("{} {}: {}", name, column.header, e.what()));
        }
      }
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
  table.bootstrap = options.bootstrap;
  table.confidence = options.confidence;
  for (auto& row : table.rows) {
    if (!row.ours) continue;
    const std::string wanted = options.compare.empty() ? row.name : options.compare;
    const auto ref = std::find_if(table.rows.begin(), table.rows.end(),
                                  [&](const LeaderboardRow& r) { return !r.ours && r.name == wanted; });
    if (ref == table.rows.end()) continue;
    row.verdict_row = ref->name;
    for (auto& [task, cell] : row.cells) {
      const auto published = ref->cells.find(task);
      if (published == ref->cells.end() || !cell.interval) continue;
      const double value = published->second.main.value;
      cell.published = value;
      cell.verdict = value < cell.interval->low    ? Verdict::above
                     : value > cell.interval->high ? Verdict::below
                                                   : Verdict::reproduced;
    }
  }
  if (!options.paired.empty()) add_paired(table, spec, grouped, options);
  mark_best(table.rows, spec);
  return table;
}

}  // namespace electra
