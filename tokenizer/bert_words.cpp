#include "tokenizer/bert_words.h"

#include <fmt/format.h>

#include <stdexcept>

namespace electra {
namespace {

using unicode::AlignedChar;


void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void emit(const AlignedChar* chars, size_t n, Words& out) {
  for (size_t i = 0; i < n; ++i) append_utf8(chars[i].cp, out.bytes);
  out.ends.push_back(out.bytes.size());
}

}  // namespace

BertWordSplitter::BertWordSplitter(BertNormalizerOptions options) : options_(options) {
  slow_flags_ = unicode::kPunct | (options_.strip_accents ? unicode::kAccent : 0) |
                (options_.lowercase ? unicode::kCased : 0);
  unicode::bmp_flags();
}

// A whitespace-delimited segment: accents, lowercase (tokenizers' order), then a split around each punctuation.
void BertWordSplitter::flush(std::vector<AlignedChar>& segment, bool slow, Words& out) const {
  if (segment.empty()) return;
  if (!slow) {
    emit(segment.data(), segment.size(), out);
    segment.clear();
    return;
  }
  unicode::normalize_and_split_segment(segment, options_.strip_accents, options_.lowercase,
                                       [&](const AlignedChar* word, size_t n) { emit(word, n, out); });
  segment.clear();
}

void BertWordSplitter::split(std::string_view text, Words& out) const {
  thread_local std::vector<AlignedChar> segment;
  segment.clear();
  bool slow = false;
  const uint8_t* bmp = unicode::bmp_flags();
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const bool lower = options_.lowercase;
  for (size_t i = 0; i < n;) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      switch (unicode::kAsciiClasses.cls[b]) {
        case unicode::kWord:
          segment.push_back({(lower && b >= 'A' && b <= 'Z') ? char32_t(b + 32) : char32_t(b), 0});
          break;
        case unicode::kBlank:
          flush(segment, slow, out);
          slow = false;
          break;
        case unicode::kPunctuation: {
          flush(segment, slow, out);
          slow = false;
          const AlignedChar single{b, 0};
          emit(&single, 1, out);
          break;
        }
        case unicode::kDropped:
          break;
      }
      ++i;
      continue;
    }
    char32_t cp;
    const size_t len = unicode::decode_utf8(s + i, n - i, cp);
    if (len == 0) throw std::runtime_error(fmt::format("invalid UTF-8 at byte {} of the text", i));
    const uint8_t f = cp < 0x10000 ? bmp[cp] : unicode::astral_flags(cp);
    if (f & (unicode::kDrop | unicode::kSpace)) {
      if (!(f & unicode::kDrop)) {
        flush(segment, slow, out);
        slow = false;
      }
    } else if ((f & unicode::kChinese) && options_.chinese_chars) {
      flush(segment, slow, out);
      segment.push_back({cp, 0});
      flush(segment, (f & slow_flags_) != 0, out);
      slow = false;
    } else {
      segment.push_back({cp, 0});
      slow = slow || (f & slow_flags_) != 0;
    }
    i += len;
  }
  flush(segment, slow, out);
}

}  // namespace electra
