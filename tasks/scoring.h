// `electra score`: a predictions file scored against a dataset file in its upstream format, as the official
// evaluation scripts score them. The readers of predictions files live here so that they can be tested and fuzzed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/task.h"

namespace electra {

// One prediction per line; a CR before the LF and empty lines at the end are ignored. `content` is the file's
// text without its BOM (read_text_file), `file` names it. Throws std::runtime_error("<file>:<line>: ...") on
// invalid UTF-8.
std::vector<std::string> parse_prediction_lines(std::string_view content, const std::filesystem::path& file);

// A QA predictions file: a JSON object {question id: answer text}, looked up for every example (a question
// without a prediction is nothing, and scores 0). Appends one warning per missing question and a summary of
// missing and unknown ids to `warnings`. Throws std::runtime_error naming the file when the JSON is not such
// an object or an answer is not a string.
std::vector<std::optional<std::string>> parse_qa_predictions(const std::string& content,
                                                             const std::filesystem::path& file,
                                                             const std::vector<Example>& examples,
                                                             std::vector<std::string>& warnings);

struct ScoreReport {
  Metrics metrics;
  std::vector<std::string> warnings;  // one line each, to print (gold file, missing predictions, short tag lists)
};

// Reads `gold` with the task's reader and scores `predictions` against it. Throws std::runtime_error naming
// the file for an empty gold file, a count mismatch and anything the readers refuse.
ScoreReport score_prediction_file(const Task& task, const std::filesystem::path& gold,
                                  const std::filesystem::path& predictions, const ReadOptions& options);

}  // namespace electra
