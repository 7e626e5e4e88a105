// electra score: scores a predictions file against a dataset file in its upstream format, like the official
// evaluation scripts, and prints one JSON object of metrics.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "leaderboard/resampling.h"
#include "tasks/scoring.h"
#include "tasks/text_file.h"

namespace electra::cli {
namespace {

struct ScoreOptions {
  std::string task;
  std::string gold;
  std::string predictions;
  bool skip_bad_rows = false;
  int64_t bootstrap = 0;        // resamples of the test examples; 0: no intervals
  uint64_t bootstrap_seed = 0;
  double confidence = 0.95;
};

// The same examples and predictions score_prediction_file scored, in resampling form.
std::unique_ptr<metrics::ResampledMetrics> resampled(const Task& task, const ScoreOptions& o, const ReadOptions& read) {
  const auto gold = task.read(o.gold, read).examples;
  std::vector<std::optional<std::string>> predictions;
  if (task.head() == HeadKind::span_extraction) {
    std::vector<std::string> ignored;
    predictions = parse_qa_predictions(read_text_file(o.predictions), o.predictions, gold, ignored);
  } else {
    for (auto& line : parse_prediction_lines(read_text_file(o.predictions), o.predictions)) predictions.emplace_back(line);
  }
  return task_resampled_metrics(task, gold, predictions);
}

void run_score(const ScoreOptions& o) {
  ReadOptions read_options;
  read_options.skip_bad_rows = o.skip_bad_rows;
  read_options.skip_hint = "use --skip-bad-rows";
  const Task& task = find_task(o.task);
  const ScoreReport report = score_prediction_file(task, o.gold, o.predictions, read_options);
  for (const auto& w : report.warnings) fmt::print(stderr, "warning: {}\n", w);
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [name, value] : report.metrics) out[name] = value;
  if (o.bootstrap > 0) {
    const auto metrics = resampled(task, o, read_options);
    const auto intervals =
        metrics::bootstrap_intervals(*metrics, metrics::BootstrapOptions{o.bootstrap, o.bootstrap_seed, o.confidence});
    nlohmann::ordered_json b;
    b["resamples"] = o.bootstrap;
    b["seed"] = o.bootstrap_seed;
    b["confidence"] = o.confidence;
    b["units"] = metrics->units();
    for (const auto& m : intervals) b["intervals"][m.name] = {m.interval.low, m.interval.high};
    out["bootstrap"] = b;
    for (const auto& m : intervals)
      fmt::print(stderr, "{} {:.2f} [{:.2f}, {:.2f}] ({:g} % bootstrap interval, {} resamples of {} test units)\n", m.name,
                 m.value, m.interval.low, m.interval.high, o.confidence * 100, o.bootstrap, metrics->units());
  }
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
  cmd->add_option("--bootstrap", options->bootstrap,
                  "Also give each metric's percentile bootstrap interval over N resamples of the test examples "
                  "(NER: sentences, QA: questions)")
      ->check(within(int64_t{1}, limits::kResamples));
  cmd->add_option("--bootstrap-seed", options->bootstrap_seed, "Seed of the bootstrap resamples (default 0)");
  cmd->add_option("--confidence", options->confidence, "Confidence of the intervals (default 0.95)")
      ->check(CLI::Range(0.5, 0.999999));
  cmd->callback([options] { run_score(*options); });
}

}  // namespace electra::cli
