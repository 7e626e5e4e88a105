#include "tasks/ner_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <stdexcept>

#include "common/stop_signal.h"
#include "tasks/text_file.h"

namespace electra {

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

ReadResult NerTask::read(const std::filesystem::path& file, const ReadOptions& options) const {
  ReadResult result;
  RowPolicy policy(file, options, result);
  const std::string content = read_text_file(file);
  const std::string file_name = file.filename().string();
  for (auto& row : split_rows(content, 0, 1, false)) {
    if (row.cells.size() != 2) {
      policy.bad_row(row.line, fmt::format("expected 2 tab-separated columns (words, tags), found {}", row.cells.size()));
      continue;
    }
    auto problem = utf8_problem(row.cells[0]);
    if (!problem) problem = utf8_problem(row.cells[1]);
    if (problem) {
      policy.bad_row(row.line, *problem);
      continue;
    }
    Example ex;
    ex.line = row.line;
    ex.id = fmt::format("{}:{}", file_name, row.line);
    ex.words = split_words(row.cells[0]);
    ex.tags = split_words(row.cells[1]);
    if (ex.words.empty()) {
      policy.bad_row(row.line, "empty text");
      continue;
    }
    if (ex.words.size() != ex.tags.size()) {
      policy.bad_row(row.line, fmt::format("{} words but {} tags", ex.words.size(), ex.tags.size()));
      continue;
    }
    const auto unknown = std::find_if(ex.tags.begin(), ex.tags.end(), [&](const std::string& t) {
      return std::find(spec_.labels.begin(), spec_.labels.end(), t) == spec_.labels.end();
    });
    if (unknown != ex.tags.end()) {
      policy.bad_row(row.line, fmt::format("unknown tag {} (known: {})", quote_value(*unknown), fmt::join(spec_.labels, ", ")));
      continue;
    }
    ex.text_a = fmt::format("{}", fmt::join(ex.words, " "));
    result.examples.push_back(std::move(ex));
  }
  policy.finish();
  return result;
}

std::vector<Feature> NerTask::featurize(const std::vector<Example>& examples, const Tokenizer& tokenizer,
                                        const FeatureOptions& options) const {
  if (options.max_seq_length < 3)
    throw std::invalid_argument(fmt::format("max_seq_length {} leaves no room for a word", options.max_seq_length));
  const auto room = static_cast<size_t>(options.max_seq_length - 2);
  std::vector<Feature> features;
  features.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    stop_if_signalled("tokenizing examples", kRerunUnchanged);
    const Example& ex = examples[i];
    if (ex.words.size() != ex.tags.size())
      throw std::invalid_argument(fmt::format("{}: example {} has {} words but {} tags", spec_.name, ex.id,
                                              ex.words.size(), ex.tags.size()));
    Feature f;
    f.example_index = static_cast<int64_t>(i);
    f.input_ids.push_back(tokenizer.cls_id());
    f.token_labels.push_back(-100);
    for (size_t w = 0; w < ex.words.size(); ++w) {
      if (f.input_ids.size() - 1 >= room) {  // this word's first sub-token does not fit
        f.words_truncated = static_cast<int64_t>(ex.words.size() - w);
        break;
      }
      const auto label = std::find(spec_.labels.begin(), spec_.labels.end(), ex.tags[w]);
      if (label == spec_.labels.end())
        throw std::invalid_argument(fmt::format("{}: example {} has unknown tag {}", spec_.name, ex.id, quote_value(ex.tags[w])));
      std::vector<int64_t> pieces;
      for (const auto& token : tokenizer.tokenize(ex.words[w])) pieces.push_back(token.id);
      if (pieces.empty()) pieces.push_back(tokenizer.unk_id());
      for (size_t p = 0; p < pieces.size(); ++p) {
        if (f.input_ids.size() - 1 >= room) break;
        f.input_ids.push_back(pieces[p]);
        f.token_labels.push_back(p == 0 ? label - spec_.labels.begin() : -100);
      }
    }
    f.input_ids.push_back(tokenizer.sep_id());
    f.token_labels.push_back(-100);
    f.token_type_ids.assign(f.input_ids.size(), 0);
    features.push_back(std::move(f));
  }
  return features;
}

std::vector<std::string> NerTask::decode(const std::vector<Example>& examples, const std::vector<Feature>& features,
                                         const std::vector<FeatureOutput>& outputs,
                                         const DecodeOptions& /*options*/) const {
  if (features.size() != outputs.size())
    throw std::invalid_argument(
        fmt::format("{}: {} features but {} model outputs", spec_.name, features.size(), outputs.size()));
  const size_t classes = spec_.labels.size();
  std::vector<std::optional<std::string>> predictions(examples.size());
  for (size_t i = 0; i < features.size(); ++i) {
    const Feature& f = features[i];
    const auto e = static_cast<size_t>(f.example_index);
    const auto& logits = outputs[i].logits;
    if (e >= examples.size() || logits.size() != f.token_labels.size() * classes)
      throw std::invalid_argument(fmt::format("{}: model output {} has {} logits, expected {} positions x {} tags",
                                              spec_.name, i, logits.size(), f.token_labels.size(), classes));
    std::vector<std::string> tags;
    for (size_t t = 0; t < f.token_labels.size(); ++t) {
      if (f.token_labels[t] == -100) continue;
      const auto row = logits.begin() + static_cast<std::ptrdiff_t>(t * classes);
      tags.push_back(spec_.labels[static_cast<size_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(classes)) - row)]);
    }
    predictions[e] = fmt::format("{}", fmt::join(tags, " "));
  }
  std::vector<std::string> out;
  for (size_t e = 0; e < examples.size(); ++e) {
    if (!predictions[e])
      throw std::invalid_argument(fmt::format("{}: example {} has no model output", spec_.name, examples[e].id));
    out.push_back(std::move(*predictions[e]));
  }
  return out;
}

Metrics NerTask::score(const std::vector<Example>& examples, const std::vector<std::string>& predictions) const {
  if (examples.size() != predictions.size())
    throw std::invalid_argument(
        fmt::format("{}: {} examples but {} predictions", spec_.name, examples.size(), predictions.size()));
  std::vector<std::vector<std::string>> gold, pred;
  for (size_t i = 0; i < examples.size(); ++i) {
    auto tags = split_words(predictions[i]);
    const auto& words = examples[i].tags;
    if (tags.size() > words.size())
      throw std::runtime_error(fmt::format("prediction on line {}: {} tags for a sentence of {} words", i + 1,
                                           tags.size(), words.size()));
    for (const auto& t : tags)
      if (std::find(spec_.labels.begin(), spec_.labels.end(), t) == spec_.labels.end())
        throw std::runtime_error(fmt::format("prediction on line {}: unknown tag {} (known: {})", i + 1,
                                             quote_value(t), fmt::join(spec_.labels, ", ")));
    gold.emplace_back(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(tags.size()));
    pred.push_back(std::move(tags));
  }
  const auto s = metrics::entity_scores(gold, pred, spec_.style);
  return {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"main", s.f1}};
}

}  // namespace electra
