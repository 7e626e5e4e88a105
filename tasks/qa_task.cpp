#include "tasks/qa_task.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>
#include <optional>
#include <string_view>
#include <stdexcept>

#include "common/stop_signal.h"
#include "common/utf8.h"
#include "tasks/text_file.h"

namespace electra {
namespace {

using nlohmann::json;

// Collects the first parse error of a document (used only after a non-throwing parse failed).
struct ParseErrorProbe : nlohmann::json_sax<json> {
  std::string message;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    message = e.what();
    return false;
  }
};

json parse_json(const std::filesystem::path& file, const std::string& content) {
  json doc = json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    ParseErrorProbe probe;
    json::sax_parse(content, &probe);
    throw std::runtime_error(fmt::format("{}: invalid JSON: {}", file.string(), probe.message));
  }
  return doc;
}

const json* member(const json& object, const char* key, json::value_t type) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end()) return nullptr;
  if (type == json::value_t::number_integer) return it->is_number_integer() ? &*it : nullptr;
  return it->type() == type ? &*it : nullptr;
}

// Python's str.isspace() for the characters Hugging Face's SQuAD processor splits on (squad.py _is_whitespace).
bool squad_whitespace(std::string_view text, size_t at, size_t* length) {
  const unsigned char c = static_cast<unsigned char>(text[at]);
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
    *length = 1;
    return true;
  }
  if (text.compare(at, 3, "\xe2\x80\xaf") == 0) {  // U+202F NARROW NO-BREAK SPACE
    *length = 3;
    return true;
  }
  return false;
}

// Where Hugging Face's SQuAD processor (KoELECTRA's) would skip a training answer, or nothing when it keeps it:
// the whitespace-separated words of the context that answer_start and the answer's length cover must contain the
// answer text with its whitespace normalised (SquadExample + squad_convert_example_to_features).
std::optional<std::string> training_answer_problem(std::string_view ctx, const Answer& answer) {
  std::vector<std::string> words;
  std::vector<int64_t> char_to_word;  // per code point
  bool after_space = true;
  for (size_t at = 0; at < ctx.size();) {
    size_t length = 1;
    if (squad_whitespace(ctx, at, &length)) {
      after_space = true;
    } else {
      length = 1;
      while (at + length < ctx.size() && utf8::is_continuation(static_cast<unsigned char>(ctx[at + length]))) ++length;
      if (after_space) words.emplace_back();
      words.back().append(ctx.substr(at, length));
      after_space = false;
    }
    char_to_word.push_back(static_cast<int64_t>(words.size()) - 1);
    at += length;
  }
  const auto n = static_cast<int64_t>(char_to_word.size());
  if (answer.start < 0 || answer.start >= n) {
    return fmt::format("answer_start {} lies outside the context ({} characters)", answer.start, n);
  }
  const int64_t last = std::min(answer.start + utf8::length(answer.text) - 1, n - 1);
  const int64_t first_word = std::max<int64_t>(0, char_to_word[answer.start]);
  const int64_t last_word = char_to_word[last];
  std::string covered, cleaned;
  for (int64_t w = first_word; w <= last_word && w < static_cast<int64_t>(words.size()); ++w) {
    covered += (covered.empty() ? "" : " ") + words[w];
  }
  std::string word;
  for (size_t at = 0; at <= answer.text.size(); ++at) {
    size_t length = 1;
    if (at == answer.text.size() || squad_whitespace(answer.text, at, &length)) {
      if (!word.empty()) cleaned += (cleaned.empty() ? "" : " ") + word;
      word.clear();
      at += length - 1;
    } else {
      word += answer.text[at];
    }
  }
  if (covered.find(cleaned) != std::string::npos) return std::nullopt;
  return fmt::format("answer text {} is not at answer_start {} (the words there: {})", quote_value(answer.text),
                     answer.start, quote_value(covered));
}

}  // namespace

ReadResult QaTask::read(const std::filesystem::path& file, const ReadOptions& options) const {
  ReadResult result;
  RowPolicy policy(file, options, result);
  const json doc = parse_json(file, read_text_file(file));
  const json* data = member(doc, "data", json::value_t::array);
  if (!data) throw std::runtime_error(fmt::format("{}: expected a JSON object with a \"data\" array (SQuAD v1.1 format)", file.string()));
  if (data->empty()) throw std::runtime_error(fmt::format("{}: the \"data\" array is empty (no articles to read)", file.string()));
  for (size_t a = 0; a < data->size(); ++a) {
    const json* paragraphs = member((*data)[a], "paragraphs", json::value_t::array);
    if (!paragraphs) {
      policy.bad_entry(fmt::format("data[{}]", a), "no \"paragraphs\" array");
      continue;
    }
    for (size_t p = 0; p < paragraphs->size(); ++p) {
      const std::string where_p = fmt::format("data[{}].paragraphs[{}]", a, p);
      const json& paragraph = (*paragraphs)[p];
      const json* context = member(paragraph, "context", json::value_t::string);
      const json* qas = member(paragraph, "qas", json::value_t::array);
      if (!context || !qas || is_blank(context->get_ref<const std::string&>())) {
        policy.bad_entry(where_p, !qas ? "no \"qas\" array" : "missing or empty \"context\"");
        continue;
      }
      const std::string& ctx = context->get_ref<const std::string&>();
      for (size_t q = 0; q < qas->size(); ++q) {
        const std::string where_q = fmt::format("{}.qas[{}]", where_p, q);
        const json& qa = (*qas)[q];
        const json* id = member(qa, "id", json::value_t::string);
        const json* question = member(qa, "question", json::value_t::string);
        const json* answers = member(qa, "answers", json::value_t::array);
        if (!id || !question || !answers) {
          policy.bad_entry(where_q, "needs string \"id\", string \"question\" and array \"answers\"");
          continue;
        }
        Example ex;
        ex.id = id->get<std::string>();
        ex.text_a = question->get<std::string>();
        ex.text_b = ctx;
        const std::string where = fmt::format("{} (id {})", where_q, quote_value(ex.id));
        if (is_blank(ex.text_a)) {
          policy.bad_entry(where, "empty question");
          continue;
        }
        if (answers->empty()) {
          policy.bad_entry(where, "no answers");
          continue;
        }
        // Scoring reads answer texts only (the official evaluate-v1.0.py); answer_start matters for training alone,
        // where the first answer is the target and a question whose answer text is not at its answer_start is
        // skipped and counted, as Hugging Face's SQuAD processor skips it.
        std::string problem;
        for (size_t k = 0; k < answers->size() && problem.empty(); ++k) {
          const json* text = member((*answers)[k], "text", json::value_t::string);
          const json* start = member((*answers)[k], "answer_start", json::value_t::number_integer);
          if (!text) {
            problem = fmt::format("answers[{}] needs string \"text\"", k);
          } else if (is_blank(text->get_ref<const std::string&>())) {
            problem = fmt::format("answers[{}] is empty", k);
          } else if (options.training && k == 0 && !start) {
            problem = fmt::format("answers[{}] needs integer \"answer_start\" in a training file", k);
          } else {
            ex.answers.push_back(Answer{text->get<std::string>(), start ? start->get<int64_t>() : -1});
          }
        }
        if (!problem.empty()) {
          policy.bad_entry(where, problem);
          continue;
        }
        if (options.training) {
          if (const auto mismatch = training_answer_problem(ctx, ex.answers.front())) {
            policy.dropped_entry(where, *mismatch);
            continue;
          }
        }
        result.examples.push_back(std::move(ex));
      }
    }
  }
  policy.finish();
  return result;
}

std::vector<Feature> QaTask::featurize(const std::vector<Example>& examples, const Tokenizer& tokenizer,
                                       const FeatureOptions& options) const {
  if (options.doc_stride < 1) throw std::invalid_argument(fmt::format("doc_stride must be >= 1, got {}", options.doc_stride));
  if (options.max_query_length < 1)
    throw std::invalid_argument(fmt::format("max_query_length must be >= 1, got {}", options.max_query_length));
  std::vector<Feature> features;
  for (size_t i = 0; i < examples.size(); ++i) {
    stop_if_signalled("tokenizing examples", kRerunUnchanged);
    const Example& ex = examples[i];
    if (!ex.text_b) throw std::invalid_argument(fmt::format("{}: example {} has no context", spec_.name, ex.id));
    auto query = tokenizer.tokenize(ex.text_a);
    if (static_cast<int64_t>(query.size()) > options.max_query_length)
      query.resize(static_cast<size_t>(options.max_query_length));
    const auto context = tokenizer.tokenize(*ex.text_b);
    const int64_t q = static_cast<int64_t>(query.size());
    const int64_t max_doc = options.max_seq_length - q - 3;
    if (max_doc < 1)
      throw std::invalid_argument(fmt::format("max_seq_length {} leaves no room for the context after a {}-token question",
                                              options.max_seq_length, q));
    const int64_t n = static_cast<int64_t>(context.size());

    // Token span of the first answer: the tokens overlapping its characters (evaluation files need no offsets).
    int64_t answer_first = -1, answer_last = -1;
    if (!ex.answers.empty() && ex.answers[0].start >= 0) {
      const int64_t begin = ex.answers[0].start, end = begin + utf8::length(ex.answers[0].text);
      for (int64_t t = 0; t < n; ++t) {
        if (context[static_cast<size_t>(t)].end > begin && context[static_cast<size_t>(t)].begin < end) {
          if (answer_first < 0) answer_first = t;
          answer_last = t;
        }
      }
    }

    for (int64_t start = 0;;) {
      const int64_t length = std::min(n - start, max_doc);
      Feature f;
      f.example_index = static_cast<int64_t>(i);
      f.input_ids.push_back(tokenizer.cls_id());
      for (const auto& t : query) f.input_ids.push_back(t.id);
      f.input_ids.push_back(tokenizer.sep_id());
      f.token_type_ids.assign(f.input_ids.size(), 0);
      f.offsets.assign(f.input_ids.size(), {-1, -1});
      for (int64_t t = start; t < start + length; ++t) {
        const auto& tok = context[static_cast<size_t>(t)];
        f.input_ids.push_back(tok.id);
        f.offsets.emplace_back(tok.begin, tok.end);
      }
      f.input_ids.push_back(tokenizer.sep_id());
      f.offsets.emplace_back(-1, -1);
      f.token_type_ids.resize(f.input_ids.size(), 1);
      if (answer_first >= start && answer_last >= 0 && answer_last < start + length) {
        f.start_position = q + 2 + answer_first - start;
        f.end_position = q + 2 + answer_last - start;
      }
      features.push_back(std::move(f));
      if (start + length >= n) break;
      start += std::min(length, options.doc_stride);
    }
  }
  return features;
}

std::vector<std::string> QaTask::decode(const std::vector<Example>& examples, const std::vector<Feature>& features,
                                        const std::vector<FeatureOutput>& outputs,
                                        const DecodeOptions& options) const {
  if (features.size() != outputs.size())
    throw std::invalid_argument(
        fmt::format("{}: {} features but {} model outputs", spec_.name, features.size(), outputs.size()));
  if (options.n_best < 1 || options.max_answer_length < 1)
    throw std::invalid_argument(fmt::format("n_best ({}) and max_answer_length ({}) must be >= 1", options.n_best,
                                            options.max_answer_length));
  std::vector<std::vector<size_t>> by_example(examples.size());
  for (size_t i = 0; i < features.size(); ++i) {
    const auto e = static_cast<size_t>(features[i].example_index);
    const size_t t = features[i].input_ids.size();
    if (e >= examples.size() || features[i].offsets.size() != t || outputs[i].start_logits.size() != t ||
        outputs[i].end_logits.size() != t)
      throw std::invalid_argument(fmt::format("{}: feature {} does not fit its model output ({} positions, {}/{} logits)",
                                              spec_.name, i, t, outputs[i].start_logits.size(),
                                              outputs[i].end_logits.size()));
    by_example[e].push_back(i);
  }
  auto top = [&](const std::vector<float>& logits) {
    std::vector<size_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
    order.resize(std::min(order.size(), static_cast<size_t>(options.n_best)));
    return order;
  };

  std::vector<std::string> predictions;
  predictions.reserve(examples.size());
  for (size_t e = 0; e < examples.size(); ++e) {
    if (by_example[e].empty())
      throw std::invalid_argument(fmt::format("{}: example {} has no model output", spec_.name, examples[e].id));
    // The window in which each context token (keyed by its first character) has the most context.
    std::map<int64_t, std::pair<double, size_t>> best_window;
    for (const size_t i : by_example[e]) {
      const auto& offsets = features[i].offsets;
      std::vector<size_t> positions;
      for (size_t p = 0; p < offsets.size(); ++p)
        if (offsets[p].first >= 0) positions.push_back(p);
      for (size_t k = 0; k < positions.size(); ++k) {
        const double left = static_cast<double>(k), right = static_cast<double>(positions.size() - 1 - k);
        const double score = std::min(left, right) + 0.01 * static_cast<double>(positions.size());
        auto [it, inserted] = best_window.try_emplace(offsets[positions[k]].first, score, i);
        if (!inserted && score > it->second.first) it->second = {score, i};
      }
    }
    bool found = false;
    double best = 0;
    std::pair<int64_t, int64_t> span{0, 0};
    for (const size_t i : by_example[e]) {
      const auto& offsets = features[i].offsets;
      const auto& out = outputs[i];
      const auto ends = top(out.end_logits);
      for (const size_t s : top(out.start_logits)) {
        if (offsets[s].first < 0 || best_window.at(offsets[s].first).second != i) continue;
        for (const size_t t : ends) {
          if (offsets[t].first < 0 || t < s || static_cast<int64_t>(t - s + 1) > options.max_answer_length) continue;
          const double score = static_cast<double>(out.start_logits[s]) + static_cast<double>(out.end_logits[t]);
          if (!found || score > best) {
            found = true;
            best = score;
            span = {offsets[s].first, offsets[t].second};
          }
        }
      }
    }
    const std::string& context = *examples[e].text_b;
    const size_t b = utf8::offset(context, span.first), end = utf8::offset(context, span.second);
    predictions.push_back(found ? context.substr(b, end - b) : std::string());
  }
  return predictions;
}

Metrics QaTask::score(const std::vector<Example>& examples, const std::vector<std::string>& predictions) const {
  return score(examples, std::vector<std::optional<std::string>>(predictions.begin(), predictions.end()));
}

Metrics QaTask::score(const std::vector<Example>& examples,
                      const std::vector<std::optional<std::string>>& predictions) const {
  if (examples.size() != predictions.size())
    throw std::invalid_argument(
        fmt::format("{}: {} questions but {} predictions", spec_.name, examples.size(), predictions.size()));
  std::vector<std::vector<std::string>> gold;
  gold.reserve(examples.size());
  for (const auto& ex : examples) {
    std::vector<std::string> texts;
    for (const auto& a : ex.answers) texts.push_back(a.text);
    gold.push_back(std::move(texts));
  }
  const auto s = metrics::qa_scores(gold, predictions, spec_.rules);
  return {{"exact_match", s.exact_match}, {"f1", s.f1}, {"main", s.f1}};
}

}  // namespace electra
