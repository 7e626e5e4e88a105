#include "corpus/sentences.h"

#include <string_view>

namespace electra {
namespace {

// Length in bytes of the UTF-8 sequence of a sentence terminator at `s[i]`, or 0.
size_t terminator_at(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  if (c == '.' || c == '!' || c == '?') return 1;
  if (i + 3 <= s.size()) {
    const std::string_view t(s.data() + i, 3);
    if (t == "\xE2\x80\xA6" || t == "\xE3\x80\x82" || t == "\xEF\xBC\x81" || t == "\xEF\xBC\x9F") return 3;
  }
  return 0;
}

// Closing quotes and brackets that stay with the sentence they end.
size_t closer_at(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}') return 1;
  static const char* const closers[] = {"\xE2\x80\x9D", "\xE2\x80\x99", "\xC2\xBB", "\xE3\x80\x8D", "\xE3\x80\x8F",
                                        "\xEF\xBC\x89", "\xE3\x80\x91", "\xE3\x80\x89", "\xE3\x80\x8B", "\xEF\xBC\xBD"};
  for (const char* closer : closers) {
    const size_t n = std::char_traits<char>::length(closer);
    if (s.compare(i, n, closer) == 0) return n;
  }
  return 0;
}

// Length of the whitespace character at `s[i]` (ASCII, no-break space, ideographic space), or 0.
size_t space_at(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 1;
  if (s.compare(i, 2, "\xC2\xA0") == 0) return 2;
  if (s.compare(i, 3, "\xE3\x80\x80") == 0) return 3;
  return 0;
}

void push_trimmed(std::vector<std::string>& out, const std::string& s, size_t begin, size_t end) {
  while (begin < end && space_at(s, begin)) begin += space_at(s, begin);
  // Trailing whitespace: only ASCII is trimmed from the end (multi-byte spaces are rare there and kept).
  while (end > begin && space_at(s, end - 1) == 1) --end;
  if (end > begin) out.emplace_back(s.substr(begin, end - begin));
}

}  // namespace

std::vector<std::string> split_sentences(const std::string& line) {
  std::vector<std::string> out;
  size_t begin = 0, i = 0;
  while (i < line.size()) {
    size_t n = terminator_at(line, i);
    if (n == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < line.size() && (n = terminator_at(line, end)) != 0) end += n;  // "!!", "?!", "..", "…."
    while (end < line.size() && (n = closer_at(line, end)) != 0) end += n;
    if (end < line.size() && space_at(line, end)) {
      push_trimmed(out, line, begin, end);
      begin = end;
    }
    i = end;
  }
  push_trimmed(out, line, begin, line.size());
  return out;
}

bool is_blank_line(const std::string& line) {
  for (size_t i = 0; i < line.size();) {
    const size_t n = space_at(line, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace electra
