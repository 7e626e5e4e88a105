// Pre-tokenizer steps of the tokenizers pipeline: ByteLevel (GPT-2's split, then each UTF-8 byte as one printable
// character aligned with the character it belongs to), Metaspace and WhitespaceSplit.
#include <utf8proc.h>

#include <array>

#include "tokenizer/pipeline.h"

namespace electra::pipeline {
namespace {

bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO;
}
bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO;
}
bool is_other(char32_t c) { return !is_white_space(c) && !is_letter(c) && !is_number(c); }

// Length of the match of 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ at w[i].
size_t gpt2_match(const Chars& w, size_t i) {
  const size_t n = w.size();
  const auto at = [&](size_t k) -> char32_t { return k < n ? w[k].cp : 0; };
  if (w[i].cp == U'\'') {
    const char32_t a = at(i + 1), b = at(i + 2);
    if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
    if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  }
  for (bool (*cls)(char32_t) : {is_letter, is_number, is_other}) {
    size_t k = i;
    if (w[k].cp == U' ' && k + 1 < n && cls(w[k + 1].cp)) ++k;
    if (!cls(w[k].cp)) continue;
    while (k < n && cls(w[k].cp)) ++k;
    return k - i;
  }
  size_t k = i;  // whitespace (every other character matched above)
  while (k < n && is_white_space(w[k].cp)) ++k;
  if (k == n || k - i == 1) return k - i;
  return k - i - 1;  // \s+(?!\S): leave the last space to the word after it
}

const std::array<char32_t, 256>& byte_chars() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

void byte_level(const PreTokenizer& step, std::vector<Chars>& words) {
  std::vector<Chars> out;
  const auto& table = byte_chars();
  for (Chars& word : words) {
    if (step.add_prefix_space && !word.empty() && word[0].cp != U' ') word.insert(word.begin(), {U' ', word[0].begin, word[0].end});
    for (size_t i = 0; i < word.size();) {
      const size_t n = step.use_regex ? gpt2_match(word, i) : word.size();
      Chars bytes;
      bytes.reserve(n * 2);
      for (size_t k = i; k < i + n; ++k) {
        utf8proc_uint8_t buffer[4];
        const auto len = utf8proc_encode_char(static_cast<utf8proc_int32_t>(word[k].cp), buffer);
        for (utf8proc_ssize_t b = 0; b < len; ++b) bytes.push_back({table[buffer[b]], word[k].begin, word[k].end});
      }
      out.push_back(std::move(bytes));
      i += n;
    }
  }
  words = std::move(out);
}

void metaspace(const PreTokenizer& step, std::vector<Chars>& words, bool sequence_start) {
  std::vector<Chars> out;
  for (size_t w = 0; w < words.size(); ++w) {
    Chars& word = words[w];
    for (Char& ch : word) {
      if (ch.cp == U' ') ch.cp = step.replacement;
    }
    const bool prepend = step.prepend == PreTokenizer::Prepend::always ||
                         (step.prepend == PreTokenizer::Prepend::first && sequence_start && w == 0);
    if (prepend && !word.empty() && word[0].cp != step.replacement) {
      word.insert(word.begin(), {step.replacement, word[0].begin, word[0].end});
    }
    if (!step.split) {
      if (!word.empty()) out.push_back(std::move(word));
      continue;
    }
    size_t from = 0;
    for (size_t i = 1; i <= word.size(); ++i) {
      if (i < word.size() && word[i].cp != step.replacement) continue;
      out.emplace_back(word.begin() + static_cast<std::ptrdiff_t>(from), word.begin() + static_cast<std::ptrdiff_t>(i));
      from = i;
    }
  }
  words = std::move(out);
}

void whitespace_split(std::vector<Chars>& words) {
  std::vector<Chars> out;
  for (const Chars& word : words) {
    size_t from = 0;
    for (size_t i = 0; i <= word.size(); ++i) {
      if (i < word.size() && !is_white_space(word[i].cp)) continue;
      if (i > from) out.emplace_back(word.begin() + static_cast<std::ptrdiff_t>(from), word.begin() + static_cast<std::ptrdiff_t>(i));
      from = i + 1;
    }
  }
  words = std::move(out);
}

}  // namespace

void pre_tokenize(const PreTokenizer& step, std::vector<Chars>& words, bool sequence_start) {
  switch (step.kind) {
    case PreTokenizer::Kind::byte_level: return byte_level(step, words);
    case PreTokenizer::Kind::metaspace: return metaspace(step, words, sequence_start);
    case PreTokenizer::Kind::whitespace_split: return whitespace_split(words);
  }
}

}  // namespace electra::pipeline
