// Normalizer steps of the tokenizers pipeline, with NormalizedString's alignment rules: a replaced character keeps
// the alignment of the one it replaces, an inserted one takes the alignment of the character before it.
#include <utf8proc.h>

#include "tokenizer/pipeline.h"
#include "tokenizer/unicode.h"

namespace electra::pipeline {
namespace {

void lowercase(Chars& chars) {
  std::vector<unicode::AlignedChar> in(chars.size()), out;
  for (size_t i = 0; i < chars.size(); ++i) in[i] = {chars[i].cp, static_cast<uint32_t>(i)};
  unicode::lowercase(in, out);
  Chars lowered(out.size());
  for (size_t i = 0; i < out.size(); ++i) lowered[i] = {out[i].cp, chars[out[i].at].begin, chars[out[i].at].end};
  chars = std::move(lowered);
}

// Length of the match of `step` at chars[i] (0: none).
size_t match_at(const Normalizer& step, const Chars& chars, size_t i) {
  if (step.min_repeat > 0) {
    size_t n = 0;
    while (i + n < chars.size() && chars[i + n].cp == step.pattern[0]) ++n;
    return n >= step.min_repeat ? n : 0;
  }
  if (i + step.pattern.size() > chars.size()) return 0;
  for (size_t k = 0; k < step.pattern.size(); ++k) {
    if (chars[i + k].cp != step.pattern[k]) return 0;
  }
  return step.pattern.size();
}

// Non-overlapping matches, left to right; the content's characters all take the alignment of the last character
// they replace (tokenizers inserts them after removing the match).
void replace(const Normalizer& step, Chars& chars) {
  Chars out;
  out.reserve(chars.size());
  for (size_t i = 0; i < chars.size();) {
    const size_t n = step.pattern.empty() ? 0 : match_at(step, chars, i);
    if (n == 0) {
      out.push_back(chars[i++]);
      continue;
    }
    for (const char32_t cp : step.content) out.push_back({cp, chars[i + n - 1].begin, chars[i + n - 1].end});
    i += n;
  }
  chars = std::move(out);
}

void strip(const Normalizer& step, Chars& chars) {
  size_t begin = 0, end = chars.size();
  if (step.left) {
    while (begin < end && is_white_space(chars[begin].cp)) ++begin;
  }
  if (step.right) {
    while (end > begin && is_white_space(chars[end - 1].cp)) --end;
  }
  chars = Chars(chars.begin() + static_cast<std::ptrdiff_t>(begin), chars.begin() + static_cast<std::ptrdiff_t>(end));
}

// tokenizers' NormalizedString::prepend: nothing on an empty string; the prepended characters share the first
// character's alignment.
void prepend(const std::u32string& text, Chars& chars) {
  if (chars.empty()) return;
  Chars out;
  out.reserve(chars.size() + text.size());
  for (const char32_t cp : text) out.push_back({cp, chars[0].begin, chars[0].end});
  out.insert(out.end(), chars.begin(), chars.end());
  chars = std::move(out);
}

// sentencepiece's nmt_nfkc rules without NFKC: control characters dropped, some spaces made plain spaces.
void nmt(Chars& chars) {
  Chars out;
  out.reserve(chars.size());
  for (const Char& ch : chars) {
    const char32_t c = ch.cp;
    if ((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F) continue;
    const bool space = c == 0x9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
                       c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD;
    out.push_back({space ? U' ' : c, ch.begin, ch.end});
  }
  chars = std::move(out);
}

}  // namespace

bool is_white_space(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string to_utf8(const char32_t* cps, size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    utf8proc_uint8_t buffer[4];
    const auto len = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cps[i]), buffer);
    out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(len));
  }
  return out;
}

void normalize(const Normalizer& step, Chars& chars, uint32_t origin) {
  switch (step.kind) {
    case Normalizer::Kind::lowercase: return lowercase(chars);
    case Normalizer::Kind::replace: return replace(step, chars);
    case Normalizer::Kind::strip: return strip(step, chars);
    case Normalizer::Kind::prepend: return prepend(step.content, chars);
    case Normalizer::Kind::nmt: return nmt(chars);
    case Normalizer::Kind::precompiled: return precompiled(*step.charsmap, chars, origin);
  }
}

}  // namespace electra::pipeline
