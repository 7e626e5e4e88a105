// Unicode facts the BERT normalizer and pre-tokenizer need, taken from utf8proc's tables, plus a strict
// UTF-8 decoder. Character classes follow the Rust `tokenizers` crate (which Hugging Face runs).
// tokenizers classifies with Unicode 8.0 tables (crate unicode_categories) and lowercases with Rust's (newer) tables,
// utf8proc has Unicode 15: where they disagree (149 classes, 55 lowercase mappings, 421 marks and decompositions),
// tokenizer/unicode_tokenizers_table.inc, generated from tokenizers 0.23.2 by tools/unicode/regenerate.sh, says
// what tokenizers does. With it, every scalar value (taken alone) is dropped, split, padded, lowercased and stripped as
// tokenizers does (checked on all 1,112,064 by that script; a 12,668-code-point sample is in the tests).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace electra::unicode {

enum CharFlag : uint8_t {
  kDrop = 1,      // removed by cleaning: U+0000, U+FFFD, categories Cc/Cf/Co except tab, newline, CR
  kSpace = 2,     // whitespace: tab, newline, CR and categories Zs/Zl/Zp (Rust's White_Space after cleaning)
  kChinese = 4,   // the CJK ideograph blocks of tokenizers' is_chinese_char
  kPunct = 8,     // ASCII punctuation or any category P*
  kAccent = 16,   // NFD changes it, or it is a combining mark: accent stripping may change it
  kCased = 32,    // lowercasing changes it
};

// Flags of every BMP code point, built from utf8proc on first use (thread-safe).
const uint8_t* bmp_flags();
// Flags of a code point outside the BMP (computed on each call; such characters are rare).
uint8_t astral_flags(char32_t cp);
// Flags of one code point.
inline uint8_t flags(char32_t cp) { return cp < 0x10000 ? bmp_flags()[cp] : astral_flags(cp); }

constexpr bool is_ascii_punct(char32_t cp) {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}
inline bool is_punct(char32_t cp) { return cp < 0x80 ? is_ascii_punct(cp) : (flags(cp) & kPunct) != 0; }

// Decodes the code point starting at s[0] (s[0] >= 0x80) from at most `left` bytes; returns its length.
// Returns 0 for an invalid sequence (bad lead or continuation byte, truncated, overlong, surrogate, > U+10FFFF).
size_t decode_utf8(const unsigned char* s, size_t left, char32_t& cp);

// Index of the first byte that is not valid UTF-8, or `size` when all of it is valid.
size_t find_invalid_utf8(const unsigned char* s, size_t size);

// A normalized character: its code point and the index of the original code point it came from.
struct AlignedChar {
  char32_t cp;
  uint32_t at;
};

// NFD (canonical decomposition and reordering) followed by dropping category Mn, keeping alignments the way
// tokenizers' NormalizedString does: each decomposed piece is aligned positionally with the character it
// replaces, inserted pieces share the alignment of the one before. `in` and `out` must differ.
void strip_accents(const std::vector<AlignedChar>& in, std::vector<AlignedChar>& out);

// Rust `char::to_lowercase` on every character (full mapping: U+0130 becomes two characters that share its
// alignment). `in` and `out` must differ.
void lowercase(const std::vector<AlignedChar>& in, std::vector<AlignedChar>& out);

// What the BERT normalizer and pre-tokenizer do with an ASCII byte (the fast path of both word splitters).
enum AsciiClass : uint8_t { kWord, kDropped, kBlank, kPunctuation };
struct AsciiClasses {
  std::array<AsciiClass, 128> cls{};
  constexpr AsciiClasses() {
    for (int c = 0; c < 128; ++c) {
      if (c == '\t' || c == '\n' || c == '\r' || c == ' ') {
        cls[c] = kBlank;
      } else if (c < 32 || c == 127) {
        cls[c] = kDropped;  // control characters (vertical tab and form feed included) are removed, not spaces
      } else if (is_ascii_punct(static_cast<char32_t>(c))) {
        cls[c] = kPunctuation;
      } else {
        cls[c] = kWord;
      }
    }
  }
};
inline constexpr AsciiClasses kAsciiClasses{};

// One whitespace-delimited segment through BertNormalizer's slow path and BertPreTokenizer's punctuation split:
// accents stripped (when `strip`), lowercased (when `lower`), then `piece(chars, n)` called for each run of
// non-punctuation characters and for each punctuation character alone, in order. The one definition of a "word"
// that the tokenizer (tokenizer.cpp) and the vocabulary trainer (bert_words.cpp) share.
template <typename Piece>
void normalize_and_split_segment(const std::vector<AlignedChar>& segment, bool strip, bool lower, Piece&& piece) {
  thread_local std::vector<AlignedChar> stripped, lowered;
  const std::vector<AlignedChar>* chars = &segment;
  if (strip) {
    strip_accents(*chars, stripped);
    chars = &stripped;
  }
  if (lower) {
    lowercase(*chars, lowered);
    chars = &lowered;
  }
  const AlignedChar* c = chars->data();
  const size_t n = chars->size();
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!is_punct(c[i].cp)) continue;
    if (i > start) piece(c + start, i - start);
    piece(c + i, 1);
    start = i + 1;
  }
  if (n > start) piece(c + start, n - start);
}

}  // namespace electra::unicode
