// tokenizers' Precompiled normalizer (sentencepiece's charsmap, as XLM-R and T5 ship it): each extended grapheme
// cluster shorter than 6 bytes is replaced whole when a key of the charsmap prefixes it, else each of its
// characters is; the alignments follow tokenizers' `replace` helper, quirks included.
#include <fmt/format.h>
#include <utf8proc.h>

#include <cstring>
#include <stdexcept>

#include "common/utf8.h"
#include "tokenizer/pipeline.h"

namespace electra::pipeline {
namespace {

uint32_t offset_of(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }
bool has_leaf(uint32_t unit) { return ((unit >> 8) & 1u) != 0; }
uint32_t value_of(uint32_t unit) { return unit & ((1u << 31) - 1); }
uint32_t label_of(uint32_t unit) { return unit & ((1u << 31) | 0xFFu); }

// tokenizers' `replace`: the new characters with change 0, then the last ones marked inserted (more characters)
// or the last one given the removal (fewer; with nothing before it, the removal is lost, as in tokenizers).
void replace(std::vector<std::pair<char32_t, int64_t>>& dest, size_t old_count, std::string_view replacement) {
  std::u32string added;
  utf8::decode_all(replacement, added);
  for (const char32_t c : added) dest.emplace_back(c, 0);
  const int64_t diff = static_cast<int64_t>(added.size()) - static_cast<int64_t>(old_count);
  if (diff > 0) {
    for (size_t k = 0; k < static_cast<size_t>(diff); ++k) dest[dest.size() - 1 - k].second = 1;
  } else if (diff < 0 && !dest.empty()) {
    dest.back().second += diff;
  }
}

}  // namespace

Charsmap::Charsmap(const std::string& bytes) {
  if (bytes.size() < 4) throw std::invalid_argument(fmt::format("{} bytes, too short for a charsmap", bytes.size()));
  uint32_t trie_bytes = 0;
  for (int i = 3; i >= 0; --i) trie_bytes = (trie_bytes << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  if (trie_bytes % 4 != 0 || trie_bytes == 0 || size_t{trie_bytes} > bytes.size() - 4) {
    throw std::invalid_argument(fmt::format("trie size {} does not fit the {} bytes", trie_bytes, bytes.size()));
  }
  units_.resize(trie_bytes / 4);
  for (size_t i = 0; i < units_.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + 4 + 4 * i;
    units_[i] = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
  }
  normalized_ = bytes.substr(4 + trie_bytes);
  if (utf8::find_invalid(normalized_) != normalized_.size()) {
    throw std::invalid_argument("its replacement strings are not valid UTF-8");
  }
}

bool Charsmap::transform(std::string_view chunk, std::string_view& replacement) const {
  size_t pos = offset_of(units_[0]);
  for (const char ch : chunk) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) break;
    pos ^= c;
    if (pos >= units_.size()) return false;
    const uint32_t unit = units_[pos];
    if (label_of(unit) != c) return false;
    pos ^= offset_of(unit);
    if (has_leaf(unit)) {
      if (pos >= units_.size()) return false;
      const size_t at = value_of(units_[pos]);
      if (at > normalized_.size()) return false;
      const size_t end = normalized_.find('\0', at);
      replacement = std::string_view(normalized_).substr(at, (end == std::string::npos ? normalized_.size() : end) - at);
      return true;
    }
  }
  return false;
}

void transform(Chars& chars, const std::vector<std::pair<char32_t, int64_t>>& dest, uint32_t origin) {
  Chars out;
  out.reserve(dest.size());
  size_t p = 0;  // next character of `chars` to replace
  for (const auto& [c, change] : dest) {
    Char aligned{c, origin, origin};
    if (change > 0) {
      if (p >= 1 && p - 1 < chars.size()) aligned = {c, chars[p - 1].begin, chars[p - 1].end};
    } else {
      if (p < chars.size()) aligned = {c, chars[p].begin, chars[p].end};
      p += 1 + static_cast<size_t>(-change);
    }
    out.push_back(aligned);
  }
  chars = std::move(out);
}

void precompiled(const Charsmap& charsmap, Chars& chars, uint32_t origin) {
  std::vector<std::pair<char32_t, int64_t>> dest;
  dest.reserve(chars.size());
  bool modified = false;
  std::string_view replacement;
  utf8proc_int32_t state = 0;  // carried over the whole text, as utf8proc asks
  for (size_t start = 0; start < chars.size();) {
    size_t end = start + 1;  // the extended grapheme cluster [start, end)
    while (end < chars.size() &&
           !utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(chars[end - 1].cp),
                                             static_cast<utf8proc_int32_t>(chars[end].cp), &state)) {
      ++end;
    }
    std::string grapheme;
    for (size_t i = start; i < end; ++i) grapheme += utf8::encode(chars[i].cp);
    if (grapheme.size() < 6 && charsmap.transform(grapheme, replacement)) {
      modified = true;
      replace(dest, end - start, replacement);
    } else {
      for (size_t i = start; i < end; ++i) {
        if (charsmap.transform(utf8::encode(chars[i].cp), replacement)) {
          modified = true;
          replace(dest, 1, replacement);
        } else {
          dest.emplace_back(chars[i].cp, 0);
        }
      }
    }
    start = end;
  }
  if (modified) transform(chars, dest, origin);
}

}  // namespace electra::pipeline
