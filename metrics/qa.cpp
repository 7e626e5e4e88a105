#include "metrics/qa.h"

#include <fmt/format.h>
#include <utf8proc.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "common/utf8.h"

namespace electra::metrics {
namespace {

std::u32string decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const size_t bad = utf8::decode_all(text, out);
  if (bad != text.size()) throw std::invalid_argument(fmt::format("invalid UTF-8 in answer text at byte {}", bad));
  return out;
}

std::string encode(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t cp : text) utf8::append(cp, out);
  return out;
}

// Python str.isspace(): category Zs or bidirectional class WS, B or S.
bool is_space(char32_t cp) {
  const auto* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

// Python's \w in a str pattern: letters, numbers and underscore.
bool is_word(char32_t cp) {
  if (cp == U'_') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

bool is_ascii_punctuation(char32_t cp) {  // Python string.punctuation
  return cp < 128 && std::string_view("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").find(static_cast<char>(cp)) !=
                         std::string_view::npos;
}

std::u32string lower(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (const char32_t cp : text) {
    if (cp == 0x130) {  // the one full lowercase mapping that is not a single code point
      out += U"i\u0307";
      continue;
    }
    out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
  return out;
}

std::u32string remove_articles(const std::u32string& s) {  // re.sub(r"\b(a|an|the)\b", " ", s)
  static const std::u32string articles[] = {U"a", U"an", U"the"};
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (i == 0 || !is_word(s[i - 1])) {
      for (const auto& a : articles) {
        if (s.compare(i, a.size(), a) == 0 && (i + a.size() == s.size() || !is_word(s[i + a.size()]))) {
          out.push_back(U' ');
          i += a.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(s[i++]);
  }
  return out;
}

std::vector<std::u32string> split_whitespace(const std::u32string& s) {
  std::vector<std::u32string> words;
  std::u32string cur;
  for (const char32_t cp : s) {
    if (is_space(cp)) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(cp);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

std::u32string normalize(std::string_view text, QaRules rules) {
  std::u32string s = decode(text);
  if (rules == QaRules::korquad) {
    static const std::u32string to_space = U"'\"《》<>〈〉()‘’";
    for (auto& cp : s)
      if (to_space.find(cp) != std::u32string::npos) cp = U' ';
  }
  s = lower(s);
  s.erase(std::remove_if(s.begin(), s.end(), is_ascii_punctuation), s.end());
  if (rules == QaRules::squad) s = remove_articles(s);
  std::u32string joined;
  for (const auto& w : split_whitespace(s)) {
    if (!joined.empty()) joined.push_back(U' ');
    joined += w;
  }
  return joined;
}

// Units F1 is counted over: characters of the words (KorQuAD) or words (SQuAD).
std::vector<std::u32string> units(std::string_view text, QaRules rules) {
  auto words = split_whitespace(normalize(text, rules));
  if (rules == QaRules::squad) return words;
  std::vector<std::u32string> chars;
  for (const auto& w : words)
    for (const char32_t cp : w) chars.emplace_back(1, cp);
  return chars;
}

}  // namespace

std::string normalize_answer(std::string_view text, QaRules rules) { return encode(normalize(text, rules)); }

double answer_exact_match(std::string_view prediction, std::string_view gold, QaRules rules) {
  return normalize(prediction, rules) == normalize(gold, rules) ? 1.0 : 0.0;
}

double answer_f1(std::string_view prediction, std::string_view gold, QaRules rules) {
  const auto p = units(prediction, rules);
  const auto g = units(gold, rules);
  std::map<std::u32string, int64_t> counts;
  for (const auto& u : g) ++counts[u];
  int64_t same = 0;
  for (const auto& u : p) {
    auto it = counts.find(u);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / static_cast<double>(p.size());
  const double recall = static_cast<double>(same) / static_cast<double>(g.size());
  return 2 * precision * recall / (precision + recall);
}

QaScores qa_scores(const std::vector<std::vector<std::string>>& gold_answers,
                   const std::vector<std::optional<std::string>>& predictions, QaRules rules) {
  if (gold_answers.size() != predictions.size())
    throw std::invalid_argument(
        fmt::format("qa scores: {} questions but {} predictions", gold_answers.size(), predictions.size()));
  if (gold_answers.empty()) throw std::invalid_argument("qa scores: no questions to score");
  double em = 0, f1 = 0;
  for (size_t i = 0; i < gold_answers.size(); ++i) {
    if (!predictions[i]) continue;
    double best_em = 0, best_f1 = 0;
    for (const auto& g : gold_answers[i]) {
      best_em = std::max(best_em, answer_exact_match(*predictions[i], g, rules));
      best_f1 = std::max(best_f1, answer_f1(*predictions[i], g, rules));
    }
    em += best_em;
    f1 += best_f1;
  }
  const double n = static_cast<double>(gold_answers.size());
  return {100.0 * em / n, 100.0 * f1 / n};
}

}  // namespace electra::metrics
