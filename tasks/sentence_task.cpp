#include "tasks/sentence_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "common/decimal.h"
#include "common/stop_signal.h"
#include "metrics/classification.h"
#include "metrics/correlation.h"
#include "tasks/text_file.h"

namespace electra {
namespace {

bool is_placeholder(const std::string& text) {
  const std::string t = trim_ascii(text);
  return t == "NS" || t == "ns" || t == "Ns" || t == "nS";
}

std::optional<double> parse_number(const std::string& text) {
  const std::string t = trim_ascii(text);
  return parse_decimal(t);
}

size_t column_index(const std::vector<std::string>& header, const std::string& name) {
  return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
}

}  // namespace

SentenceTask::SentenceTask(SentenceTaskSpec spec) : spec_(std::move(spec)) {
  if (spec_.layouts.empty()) throw std::invalid_argument(fmt::format("task '{}' has no column layout", spec_.name));
}

ReadResult SentenceTask::read(const std::filesystem::path& file, const ReadOptions& options) const {
  ReadResult result;
  RowPolicy policy(file, options, result);
  const std::string content = read_text_file(file);

  const ColumnLayout* layout = nullptr;
  std::vector<std::string> header;
  size_t body = 0;
  int64_t body_line = 1;
  if (spec_.layouts.front().has_header) {
    const size_t eol = content.find('\n');
    const std::string_view first(content.data(), eol == std::string::npos ? content.size() : eol);
    if (auto problem = utf8_problem(first)) throw std::runtime_error(fmt::format("{}: {}", policy.where(1), *problem));
    const auto rows = split_rows(first, 0, 1, false);
    if (rows.empty()) throw std::runtime_error(fmt::format("{}: empty file, expected a header line", file.string()));
    for (const auto& cell : rows.front().cells) header.push_back(trim_ascii(cell));
    for (const auto& candidate : spec_.layouts) {
      const std::vector<std::string> names = {candidate.text_a, candidate.text_b, candidate.label, candidate.id};
      const bool fits = std::all_of(names.begin(), names.end(), [&](const std::string& name) {
        return name.empty() || column_index(header, name) < header.size();
      });
      if (fits) {
        layout = &candidate;
        break;
      }
    }
    if (!layout) {
      std::vector<std::string> expected;
      for (const auto& l : spec_.layouts) {
        std::vector<std::string> names;
        for (const auto* n : {&l.text_a, &l.text_b, &l.label, &l.id})
          if (!n->empty()) names.push_back(*n);
        expected.push_back(fmt::format("{} ({})", l.name, fmt::join(names, ", ")));
      }
      throw std::runtime_error(fmt::format("{}: header '{}' matches no known layout of task '{}' (expected columns: {})",
                                           policy.where(1), fmt::join(header, "\\t"), spec_.name,
                                           fmt::join(expected, " or ")));
    }
    body = eol == std::string::npos ? content.size() : eol + 1;
    body_line = 2;
  } else {
    layout = &spec_.layouts.front();
    header = layout->columns;
  }

  const size_t a_col = column_index(header, layout->text_a);
  const size_t b_col = layout->text_b.empty() ? header.size() : column_index(header, layout->text_b);
  const size_t label_col = column_index(header, layout->label);
  const size_t id_col = layout->id.empty() ? header.size() : column_index(header, layout->id);
  const std::string file_name = file.filename().string();
  auto reject = [&](int64_t line, const std::string& problem) {
    if (spec_.skip_malformed_rows)
      policy.malformed_row(line, problem);
    else
      policy.bad_row(line, problem);
  };

  for (auto& row : split_rows(content, body, body_line, layout->quoted)) {
    if (row.unterminated_quote) {
      reject(row.line, "a quoted cell is not closed before the end of the file");
      continue;
    }
    if (row.cells.size() != header.size()) {
      reject(row.line, fmt::format("expected {} tab-separated columns, found {}", header.size(), row.cells.size()));
      continue;
    }
    bool ok = true;
    for (size_t c = 0; c < row.cells.size() && ok; ++c) {
      if (auto problem = utf8_problem(row.cells[c])) {
        reject(row.line, fmt::format("{} in column '{}'", *problem, header[c]));
        ok = false;
      }
    }
    if (!ok) continue;

    Example ex;
    ex.line = row.line;
    ex.id = id_col < header.size() ? trim_ascii(row.cells[id_col]) : fmt::format("{}:{}", file_name, row.line);
    ex.text_a = row.cells[a_col];
    if (b_col < header.size()) ex.text_b = row.cells[b_col];
    if (spec_.drop_placeholder_pairs) {
      const bool a_bad = is_blank(ex.text_a) || is_placeholder(ex.text_a);
      const bool b_bad = ex.text_b && (is_blank(*ex.text_b) || is_placeholder(*ex.text_b));
      if (a_bad || b_bad) {
        policy.dropped_by_rule(row.line, fmt::format("placeholder or empty sentence {}",
                                                     quote_value(a_bad ? ex.text_a : *ex.text_b)));
        continue;
      }
    }
    // KoELECTRA's and GLUE's processors read an empty cell as the empty text and keep the row (NSMC has 5 such
    // train and 3 test rows, and its published accuracies are over all 50,000 test rows).
    if (is_blank(ex.text_a)) policy.empty_text(row.line, layout->text_a);
    if (ex.text_b && is_blank(*ex.text_b)) policy.empty_text(row.line, layout->text_b);
    const std::string value = trim_ascii(row.cells[label_col]);
    if (spec_.head == HeadKind::regression) {
      const auto score = parse_number(value);
      if (!score || *score < spec_.min_score || *score > spec_.max_score) {
        reject(row.line, fmt::format("score {} in column '{}' is not a number in [{}, {}]", quote_value(value),
                                     layout->label, spec_.min_score, spec_.max_score));
        continue;
      }
      ex.score = *score;
    } else {
      if (std::find(spec_.labels.begin(), spec_.labels.end(), value) == spec_.labels.end()) {
        reject(row.line, fmt::format("unknown label {} in column '{}' (known: {})", quote_value(value),
                                     layout->label, fmt::join(spec_.labels, ", ")));
        continue;
      }
      ex.label = value;
    }
    result.examples.push_back(std::move(ex));
  }
  policy.finish();
  return result;
}

std::vector<Feature> SentenceTask::featurize(const std::vector<Example>& examples, const Tokenizer& tokenizer,
                                             const FeatureOptions& options) const {
  EncodeOptions encode;
  encode.max_length = options.max_seq_length;
  encode.truncation = Truncation::longest_first;
  encode.padding = Padding::none;
  std::vector<Feature> features;
  features.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    stop_if_signalled("tokenizing examples", kRerunUnchanged);
    const Example& ex = examples[i];
    std::optional<std::string_view> pair;
    if (ex.text_b) pair = *ex.text_b;
    Encoding enc = tokenizer.encode(ex.text_a, pair, encode);
    Feature f;
    f.input_ids = std::move(enc.input_ids);
    f.token_type_ids = std::move(enc.token_type_ids);
    f.example_index = static_cast<int64_t>(i);
    if (spec_.head == HeadKind::regression) {
      f.score = static_cast<float>(ex.score);
    } else {
      const auto it = std::find(spec_.labels.begin(), spec_.labels.end(), ex.label);
      if (it == spec_.labels.end())
        throw std::invalid_argument(fmt::format("{}: example {} has unknown label {} (known: {})", spec_.name,
                                                ex.id, quote_value(ex.label), fmt::join(spec_.labels, ", ")));
      f.label = it - spec_.labels.begin();
    }
    features.push_back(std::move(f));
  }
  return features;
}

std::vector<std::string> SentenceTask::decode(const std::vector<Example>& examples,
                                              const std::vector<Feature>& features,
                                              const std::vector<FeatureOutput>& outputs,
                                              const DecodeOptions& /*options*/) const {
  if (features.size() != outputs.size())
    throw std::invalid_argument(
        fmt::format("{}: {} features but {} model outputs", spec_.name, features.size(), outputs.size()));
  const size_t width = spec_.head == HeadKind::regression ? 1 : spec_.labels.size();
  std::vector<std::optional<std::string>> predictions(examples.size());
  for (size_t i = 0; i < features.size(); ++i) {
    const auto& logits = outputs[i].logits;
    const auto e = static_cast<size_t>(features[i].example_index);
    if (e >= examples.size())
      throw std::invalid_argument(fmt::format("{}: feature {} points at example {} of {}", spec_.name, i, e,
                                              examples.size()));
    if (logits.size() != width)
      throw std::invalid_argument(
          fmt::format("{}: model output {} has {} logits, expected {}", spec_.name, i, logits.size(), width));
    if (spec_.head == HeadKind::regression) {
      predictions[e] = fmt::format("{}", logits[0]);
    } else {
      predictions[e] = spec_.labels[static_cast<size_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())];
    }
  }
  std::vector<std::string> out;
  out.reserve(examples.size());
  for (size_t e = 0; e < examples.size(); ++e) {
    if (!predictions[e])
      throw std::invalid_argument(fmt::format("{}: example {} has no model output", spec_.name, examples[e].id));
    out.push_back(std::move(*predictions[e]));
  }
  return out;
}

Metrics SentenceTask::score(const std::vector<Example>& examples, const std::vector<std::string>& predictions) const {
  if (examples.size() != predictions.size())
    throw std::invalid_argument(
        fmt::format("{}: {} examples but {} predictions", spec_.name, examples.size(), predictions.size()));
  Metrics m;
  if (spec_.head == HeadKind::regression) {
    std::vector<double> gold, pred;
    for (size_t i = 0; i < examples.size(); ++i) {
      const auto v = parse_number(predictions[i]);
      if (!v)
        throw std::runtime_error(
            fmt::format("prediction on line {}: {} is not a finite number", i + 1, quote_value(predictions[i])));
      gold.push_back(examples[i].score);
      pred.push_back(*v);
    }
    for (const auto& name : spec_.metrics) {
      if (name == "pearson") m[name] = metrics::pearson(gold, pred);
      if (name == "spearman") m[name] = metrics::spearman(gold, pred);
    }
  } else {
    std::vector<std::string> gold, pred;
    for (size_t i = 0; i < examples.size(); ++i) {
      std::string p = trim_ascii(predictions[i]);
      if (std::find(spec_.labels.begin(), spec_.labels.end(), p) == spec_.labels.end())
        throw std::runtime_error(fmt::format("prediction on line {}: unknown label {} (known: {})", i + 1,
                                             quote_value(p), fmt::join(spec_.labels, ", ")));
      gold.push_back(examples[i].label);
      pred.push_back(std::move(p));
    }
    for (const auto& name : spec_.metrics) {
      if (name == "accuracy") m[name] = metrics::accuracy(gold, pred);
      if (name == "macro_f1") m[name] = metrics::macro_f1(gold, pred);
      if (name == "mcc") m[name] = metrics::matthews_corrcoef(gold, pred);
    }
  }
  if (m.size() != spec_.metrics.size())
    throw std::invalid_argument(fmt::format("{}: metrics {} do not fit its head {}", spec_.name,
                                            fmt::join(spec_.metrics, ", "), to_string(spec_.head)));
  m["main"] = m.at(spec_.main_metric);
  return m;
}

std::vector<Example> with_swapped_pairs(const std::vector<Example>& examples) {
  std::vector<Example> out = examples;
  for (const auto& ex : examples) {
    if (!ex.text_b) continue;
    Example swapped = ex;
    swapped.id = ex.id + ":swapped";
    swapped.text_a = *ex.text_b;
    swapped.text_b = ex.text_a;
    out.push_back(std::move(swapped));
  }
  return out;
}

}  // namespace electra
