// Leaderboards: the published benchmark tables (configs/leaderboards/*.yaml) with rows built from our runs'
// results.json files beside them, rendered as markdown (the seed's table layout), csv, json, text or html.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "leaderboard/results.h"
#include "metrics/bootstrap.h"

namespace electra {

// A number as a table shows it: the value and its decimals (published numbers keep the precision they were
// published with: "55.6" stays "55.6").
struct Score {
  double value = 0.0;
  int decimals = 2;
};

struct LeaderboardColumn {
  std::string task;                  // canonical task name, as results.json writes it ("naver-ner")
  std::vector<std::string> aliases;  // other names accepted for the task ('_' and '-' are always equivalent)
  std::string header;                // header text ("NSMC", "KorQuaD (Dev)")
  std::string metric_label;          // shown under the header ("acc", "EM/F1")
  std::string metric;                // results.json metrics key of the column; counted in the average
  std::string secondary_metric;      // shown first as "EM / F1" (KorQuAD: "exact_match"); empty when none
  std::string split;                 // "dev" or "test": the split the published column reports
  std::string split_note;            // why, shown in the footnote ("no dev split"); may be empty
};

struct PublishedRow {
  std::string name;
  std::string params_text;           // as published: "14M"
  std::optional<Score> avg;          // as published; checked against the mean of the columns when loading
  std::map<std::string, Score> scores;      // by column task: the main metric
  std::map<std::string, Score> secondary;   // by column task: the secondary metric (KorQuAD EM)
  std::string link;                  // shown as the row's link in markdown/html; may be empty
  std::string source;                // where the numbers come from
};

struct LeaderboardSpec {
  std::filesystem::path file;        // the YAML it was read from
  std::string name;                  // "korean"
  std::string title;
  std::string average_rule;          // "mean_of_main": plain mean of every column's main metric
  std::string average_note;          // footnote text for the Avg. column
  std::vector<LeaderboardColumn> columns;   // in table order
  std::vector<PublishedRow> published;      // in table order
};

// Reads a leaderboard YAML; unknown keys, missing keys, a published Avg that disagrees with its row's mean
// and duplicate names are std::invalid_argument naming the file and the key.
LeaderboardSpec load_leaderboard_spec(const std::filesystem::path& file);
// `name_or_file`: a .yaml path, or a name looked up as configs/leaderboards/<name>.yaml in the current
// directory, then in the source tree electra was built from. Unknown names list the known ones.
LeaderboardSpec find_leaderboard_spec(const std::string& name_or_file);

// Where the published value lies against our reproduction interval (docs/reproduction.md has the rule).
enum class Verdict { reproduced, below, above };
std::string to_string(Verdict verdict);  // "reproduced", "below", "above"

struct LeaderboardCell {
  Score main;                        // the median over seeds for our rows
  std::optional<Score> secondary;    // KorQuAD EM
  double min = 0.0, max = 0.0;       // range of the main metric over seeds
  std::optional<double> secondary_min, secondary_max;
  std::vector<int64_t> seeds;        // ours: the seeds behind the median (empty for published rows)
  bool best = false;                 // best value of its column (ties all best)
  // Ours, main metric. sd: sample standard deviation over seeds (0 for one seed).
  double sd = 0.0;
  // Ours with predictions: the percentile bootstrap interval of the median over seeds, resampling test units
  // (every seed scored on the same resample), and the reproduction interval that adds the seed spread to it.
  std::optional<metrics::Interval> test_interval, interval;
  std::optional<Verdict> verdict;    // ours, when the verdict row has the column and the cell has an interval
  std::optional<double> published;   // the value the verdict judged
};

struct LeaderboardRow {
  std::string name;
  bool ours = false;
  std::string params_text;           // "14M", or "" when unknown
  std::optional<int64_t> params;     // ours: from results.json
  std::string link, source;
  std::map<std::string, LeaderboardCell> cells;  // by column task; a missing task has no entry
  std::optional<Score> avg;          // complete rows only (published: as published when given)
  bool avg_published = false;        // the Avg. is the publisher's, not computed here
  std::optional<double> partial_avg; // mean over the columns present, for an incomplete row of ours
  bool avg_best = false;
  // Ours with --compare: our value minus the compared published row's, by column task.
  std::map<std::string, double> delta, delta_secondary;
  std::optional<double> delta_avg;
  std::vector<std::filesystem::path> files;  // ours: the results.json files read
  std::string verdict_row;           // ours: the published row the verdicts judge against; empty: none
};

struct LeaderboardOptions {
  std::string compare;               // name of a published row to diff our rows against; empty: none
  int64_t bootstrap = 1000;          // resamples of the test units per cell; 0: no intervals, no verdicts
  uint64_t bootstrap_seed = 0;
  double confidence = 0.95;
  std::vector<RunResult> paired;     // --paired: runs to compare ours with, resample by resample
};

// Ours minus a paired set of runs on one column, on the same bootstrap resamples of the same test examples.
struct PairedComparison {
  std::string ours, other;           // display names (the other set's runs as given to --paired)
  std::string task, metric;
  size_t seeds_ours = 0, seeds_other = 0, units = 0;
  double difference = 0.0;           // median over our seeds minus median over theirs, on the whole test set
  metrics::Interval interval;        // percentile interval of the resampled difference
  double p_value = 1.0;              // two-sided: 2 x the smaller share of resampled differences <= 0 or >= 0, at most 1
};

struct LeaderboardTable {
  LeaderboardSpec spec;
  std::vector<LeaderboardRow> rows;  // published rows in spec order, then ours by name
  std::string compare;
  std::vector<std::string> notes;    // runs left out and why, duplicates merged, mismatched parameter counts
  int64_t bootstrap = 0;             // resamples behind the intervals (0: none)
  double confidence = 0.95;
  std::vector<std::string> interval_notes;  // cells without an interval, and why
  std::vector<PairedComparison> paired;
};

// "3 of 4 reproduced (1 below, 0 above)" for one of our rows; empty when it has no verdict.
std::string verdict_summary(const LeaderboardRow& row);

// Groups runs by RunResult::display_name(), takes for each column the runs of its task scored on the column's
// split, and the median over seeds (mean of the two middle values for an even count). Runs of other tasks or
// splits are left out with a note. Two runs of one model, task and seed that disagree are std::runtime_error.
// With options.bootstrap > 0, every cell of ours whose runs have their predictions beside their results.json gets
// intervals and, against the --compare row (else a published row of the same name), a verdict. options.paired runs
// of a different test file than ours are std::invalid_argument naming both files.
LeaderboardTable build_leaderboard(const LeaderboardSpec& spec, const std::vector<RunResult>& runs,
                                   const LeaderboardOptions& options = {});

enum class LeaderboardFormat { markdown, csv, json, text, html };
LeaderboardFormat parse_leaderboard_format(const std::string& name);  // std::invalid_argument listing formats
// From a file extension (.md .csv .json .txt .html); nullopt for anything else.
std::optional<LeaderboardFormat> leaderboard_format_for(const std::filesystem::path& file);
std::string render_leaderboard(const LeaderboardTable& table, LeaderboardFormat format);
// One self-contained page (inline CSS, one inline SVG bar chart per column); no network access needed.
std::string render_leaderboard_html(const LeaderboardTable& table);

// For `electra finetune --suite`: the leaderboard of `suite` from the results.json files under `run_dirs`,
// written to out_dir/leaderboard_<suite>.{md,html,json}.
void write_suite_leaderboard(const std::string& suite, const std::vector<std::filesystem::path>& run_dirs,
                             const std::filesystem::path& out_dir);

// Lower case, '_' -> '-': "Hate_Speech" -> "hate-speech".
std::string normalize_task_name(std::string name);
// "14M" style parameter counts: millions rounded to whole numbers, thousands below a million.
std::string format_params(int64_t params);
// Fixed-point text rounding half away from zero on the decimal value (80.265 -> "80.27").
std::string format_fixed(double value, int decimals);

}  // namespace electra
