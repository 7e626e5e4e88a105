// Unicode facts the BERT normalizer and pre-tokenizer need, taken from utf8proc's tables. Character classes
// follow the Rust `tokenizers` crate (which Hugging Face runs).
// tokenizers classifies with Unicode 8.0 tables (crate unicode_categories) and lowercases with Rust's (newer) tables,
// utf8proc has Unicode 15: where they disagree (149 classes, 55 lowercase mappings, 421 marks and decompositions),
// tokenizer/unicode_tokenizers_table.inc, generated from tokenizers 0.23.2 by tools/unicode/regenerate.sh, says
// what tokenizers does. With it, every scalar value (taken alone) is dropped, split, padded, lowercased and stripped as
// tokenizers does (checked on all 1,112,064 by that script; a 12,668-code-point sample is in the tests).
#pragma once

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

}  // namespace electra::unicode
