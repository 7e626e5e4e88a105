// electra score: scores a predictions file against a dataset file in its upstream format, like the official
// evaluation scripts, and prints one JSON object of metrics.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "cli/commands.h"
#include "common/files.h"
#include "tasks/ner_task.h"
#include "tasks/qa_task.h"
#include "tasks/task.h"
#include "tasks/text_file.h"

namespace electra::cli {
namespace {

struct ScoreOptions {
  std::string task;
  std::string gold;
  std::string predictions;
  bool skip_bad_rows = false;
};

// One prediction per line; a CR before the LF, a BOM and empty lines at the end are ignored.
std::vector<std::string> read_prediction_lines(const std::string& file) {
  std::vector<std::string> lines;
  for (auto& row : split_rows(read_text_file(file), 0, 1, false)) {
    std::string line = fmt::format("{}", fmt::join(row.cells, "\t"));
    if (auto problem = utf8_problem(line)) throw std::runtime_error(fmt::format("{}:{}: {}", file, row.line, *problem));
    lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<std::optional<std::string>> read_qa_predictions(const std::string& file, const std::vector<Example>& examples) {
  const auto doc = nlohmann::json::parse(read_text_file(file), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    throw std::runtime_error(fmt::format("{}: expected a JSON object {{question id: answer text}}", file));
  std::vector<std::optional<std::string>> out;
  std::set<std::string> ids;
  int64_t missing = 0;
  for (const auto& ex : examples) {
    ids.insert(ex.id);
    const auto it = doc.find(ex.id);
    if (it == doc.end()) {
      fmt::print(stderr, "warning: no prediction for question id {} (scored 0)\n", ex.id);
      ++missing;
      out.emplace_back();
      continue;
    }
    if (!it->is_string())
      throw std::runtime_error(fmt::format("{}: the prediction for id {} is not a string", file, ex.id));
    out.emplace_back(it->get<std::string>());
  }
  int64_t unknown = 0;
  for (const auto& item : doc.items()) unknown += ids.count(item.key()) == 0;
  if (missing > 0) fmt::print(stderr, "warning: {} of {} questions have no prediction\n", missing, examples.size());
  if (unknown > 0) fmt::print(stderr, "warning: {} predictions name question ids not in the gold file (ignored)\n", unknown);
  return out;
}

void run_score(const ScoreOptions& o) {
  const Task& task = find_task(o.task);
  ReadOptions read_options;
  read_options.skip_bad_rows = o.skip_bad_rows;
  const ReadResult gold = task.read(o.gold, read_options);
  for (const auto& w : gold.warnings) fmt::print(stderr, "warning: {}\n", w);
  if (gold.examples.empty()) throw std::runtime_error(fmt::format("{}: no examples to score", o.gold));

  Metrics metrics;
  if (task.head() == HeadKind::span_extraction) {
    const auto* qa = dynamic_cast<const QaTask*>(&task);
    if (!qa) throw std::invalid_argument(fmt::format("task '{}' has no QA scorer", task.name()));
    metrics = qa->score(gold.examples, read_qa_predictions(o.predictions, gold.examples));
  } else {
    const auto predictions = read_prediction_lines(o.predictions);
    if (predictions.size() != gold.examples.size())
      throw std::runtime_error(fmt::format("{}: {} predictions, but {} has {} examples{}", o.predictions,
                                           predictions.size(), o.gold, gold.examples.size(),
                                           gold.skipped_bad_rows + gold.skipped_by_rule > 0
                                               ? fmt::format(" ({} rows were skipped)", gold.skipped_bad_rows + gold.skipped_by_rule)
                                               : ""));
    if (task.head() == HeadKind::token_classification) {
      int64_t sentences = 0, words = 0;
      for (size_t i = 0; i < predictions.size(); ++i) {
        const auto tags = split_words(predictions[i]).size();
        if (tags < gold.examples[i].words.size()) {
          ++sentences;
          words += static_cast<int64_t>(gold.examples[i].words.size() - tags);
        }
      }
      if (sentences > 0)
        fmt::print(stderr, "warning: {} predictions have fewer tags than words; their last {} words are left out of "
                   "gold and prediction alike (as truncation does in KoELECTRA)\n", sentences, words);
    }
    metrics = task.score(gold.examples, predictions);
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : metrics) out[name] = value;
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
