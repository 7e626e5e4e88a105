// The one UTF-8 codec: strict decoding (what Python, utf8proc and Hugging Face tokenizers accept: no overlong
// forms, no surrogates, nothing above U+10FFFF) and encoding of Unicode scalar values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace electra::utf8 {

// A byte that continues a multi-byte sequence (10xxxxxx); every other byte starts a code point.
constexpr bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Decodes the code point starting at s[0] from at most `left` (> 0) bytes into `cp` and returns its length (1-4),
// or 0 when no valid sequence starts there (bad lead or continuation byte, truncated, overlong, surrogate,
// above U+10FFFF); `cp` is then unspecified.
size_t decode(const unsigned char* s, size_t left, char32_t& cp);
// The same for the code point at byte `at` (< text.size()) of `text`.
inline size_t decode(std::string_view text, size_t at, char32_t& cp) {
  return decode(reinterpret_cast<const unsigned char*>(text.data()) + at, text.size() - at, cp);
}

// Index of the first byte where no valid sequence starts, or text.size() when all of `text` is valid.
size_t find_invalid(std::string_view text);

// Appends the code points of `text` to `out` (a container of char32_t) up to the first byte where no valid sequence
// starts, and returns that byte's index (text.size() when all of `text` is valid).
template <typename Out>
size_t decode_all(std::string_view text, Out& out) {
  for (size_t at = 0; at < text.size();) {
    char32_t cp = 0;
    const size_t n = decode(text, at, cp);
    if (n == 0) return at;
    out.push_back(cp);
    at += n;
  }
  return text.size();
}

// Appends the encoding of the scalar value `cp` (not a surrogate, at most U+10FFFF).
void append(char32_t cp, std::string& out);
inline std::string encode(char32_t cp) {
  std::string out;
  append(cp, out);
  return out;
}

// Number of code points of valid UTF-8 (the bytes that start one).
int64_t length(std::string_view text);
// Byte offset of code point `index` of valid UTF-8 (text.size() for index == length(text)).
size_t offset(std::string_view text, int64_t index);

}  // namespace electra::utf8
