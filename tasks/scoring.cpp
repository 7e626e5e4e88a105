#include "tasks/scoring.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "tasks/ner_task.h"
#include "tasks/qa_task.h"
#include "tasks/text_file.h"

namespace electra {

std::vector<std::string> parse_prediction_lines(std::string_view content, const std::filesystem::path& file) {
  std::vector<std::string> lines;
  for (auto& row : split_rows(content, 0, 1, false)) {
    std::string line = fmt::format("{}", fmt::join(row.cells, "\t"));
    if (auto problem = utf8_problem(line))
      throw std::runtime_error(fmt::format("{}:{}: {}", file.string(), row.line, *problem));
    lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<std::optional<std::string>> parse_qa_predictions(const std::string& content,
                                                             const std::filesystem::path& file,
                                                             const std::vector<Example>& examples,
                                                             std::vector<std::string>& warnings) {
  const auto doc = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    throw std::runtime_error(fmt::format("{}: expected a JSON object {{question id: answer text}}", file.string()));
  std::vector<std::optional<std::string>> out;
  std::set<std::string> ids;
  int64_t missing = 0;
  for (const auto& ex : examples) {
    ids.insert(ex.id);
    const auto it = doc.find(ex.id);
    if (it == doc.end()) {
      warnings.push_back(fmt::format("no prediction for question id {} (scored 0)", ex.id));
      ++missing;
      out.emplace_back();
      continue;
    }
    if (!it->is_string())
      throw std::runtime_error(fmt::format("{}: the prediction for id {} is not a string", file.string(), ex.id));
    out.emplace_back(it->get<std::string>());
  }
  int64_t unknown = 0;
  for (const auto& item : doc.items()) unknown += ids.count(item.key()) == 0;
  if (missing > 0) warnings.push_back(fmt::format("{} of {} questions have no prediction", missing, examples.size()));
  if (unknown > 0)
    warnings.push_back(fmt::format("{} predictions name question ids not in the gold file (ignored)", unknown));
  return out;
}

ScoreReport score_prediction_file(const Task& task, const std::filesystem::path& gold_file,
                                  const std::filesystem::path& predictions_file, const ReadOptions& options) {
  ScoreReport report;
  const ReadResult gold = task.read(gold_file, options);
  report.warnings = gold.warnings;
  if (gold.examples.empty()) {
    throw std::runtime_error(fmt::format("{}: no examples to score{}", gold_file.string(),
                                         gold.warnings.empty() ? "" : fmt::format(" ({})", fmt::join(gold.warnings, "; "))));
  }

  if (task.head() == HeadKind::span_extraction) {
    const auto* qa = dynamic_cast<const QaTask*>(&task);
    if (!qa) throw std::invalid_argument(fmt::format("task '{}' has no QA scorer", task.name()));
    report.metrics = qa->score(
        gold.examples, parse_qa_predictions(read_text_file(predictions_file), predictions_file, gold.examples,
                                            report.warnings));
    return report;
  }
  const auto predictions = parse_prediction_lines(read_text_file(predictions_file), predictions_file);
  if (predictions.size() != gold.examples.size()) {
    const int64_t skipped = gold.skipped_bad_rows + gold.skipped_by_rule;
    throw std::runtime_error(fmt::format("{}: {} predictions, but {} has {} examples{}", predictions_file.string(),
                                         predictions.size(), gold_file.string(), gold.examples.size(),
                                         skipped > 0 ? fmt::format(" ({} rows were skipped)", skipped) : ""));
  }
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
      report.warnings.push_back(fmt::format(
          "{} predictions have fewer tags than words; their last {} words are left out of gold and prediction "
          "alike (as truncation does in KoELECTRA)", sentences, words));
  }
  try {
    report.metrics = task.score(gold.examples, predictions);
  } catch (const std::runtime_error& e) {
    // The task names the line ("prediction on line 3: unknown label ..."); the file is known here.
    throw std::runtime_error(fmt::format("{}: {}", predictions_file.string(), e.what()));
  }
  for (auto& w : undefined_metric_warnings(report.metrics, predictions_file.string())) report.warnings.push_back(w);
  return report;
}

}  // namespace electra
