// The words that Hugging Face's BertNormalizer + BertPreTokenizer make of a text (cleaning, CJK spacing, accents,
// lowercase, whitespace and punctuation splits). for_each_bert_word is the one scan that the tokenizer (which cuts
// each word into WordPiece tokens) and the vocabulary trainer (which counts the words, as tokenizers' trainers do)
// share, so that the two cannot disagree on what a word is.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"
#include "tokenizer/unicode.h"

namespace electra {

struct BertNormalizerOptions {
  bool lowercase = true;
  bool strip_accents = true;  // tokenizers' None follows `lowercase`; the caller resolves it
  bool chinese_chars = true;  // put spaces around CJK ideographs (handle_chinese_chars)
};

namespace bert_detail {

// What the BERT normalizer and pre-tokenizer do with an ASCII byte (the fast path of the scan).
enum AsciiClass : uint8_t { kWord, kDropped, kBlank, kPunctuation };
struct AsciiClasses {
  std::array<AsciiClass, 128> cls{};
  constexpr AsciiClasses() {
    for (int c = 0; c < 128; ++c) {
      if (c == '\t' || c == '\n' || c == '\r' || c == ' ') {
        cls[c] = kBlank;
      } else if (c < 32 || c == 127) {
        cls[c] = kDropped;  // control characters (vertical tab and form feed included) are removed, not spaces
      } else if (unicode::is_ascii_punct(static_cast<char32_t>(c))) {
        cls[c] = kPunctuation;
      } else {
        cls[c] = kWord;
      }
    }
  }
};
inline constexpr AsciiClasses kAsciiClasses{};

// One whitespace-delimited segment through BertNormalizer's slow path and BertPreTokenizer's punctuation split:
// accents stripped (when `strip`), lowercased (when `lower`), in tokenizers' order, then `word(chars, n)` called for
// each run of non-punctuation characters and for each punctuation character alone, in order.
template <typename Word>
void normalize_and_split_segment(const std::vector<unicode::AlignedChar>& segment, bool strip, bool lower,
                                 Word& word) {
  thread_local std::vector<unicode::AlignedChar> stripped, lowered;
  const std::vector<unicode::AlignedChar>* chars = &segment;
  if (strip) {
    unicode::strip_accents(*chars, stripped);
    chars = &stripped;
  }
  if (lower) {
    unicode::lowercase(*chars, lowered);
    chars = &lowered;
  }
  const unicode::AlignedChar* c = chars->data();
  const size_t n = chars->size();
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!unicode::is_punct(c[i].cp)) continue;
    if (i > start) word(c + start, i - start);
    word(c + i, 1);
    start = i + 1;
  }
  if (n > start) word(c + start, n - start);
}

// Throws std::runtime_error("invalid UTF-8 at byte AT of the text").
[[noreturn]] void throw_invalid_utf8(size_t at);

}  // namespace bert_detail

// Calls `word(chars, n)` (chars: const unicode::AlignedChar*, n > 0) for each word of text[begin, end), in order.
// Cleaning, whitespace, CJK spacing and ASCII punctuation are decided per character; the rest of a
// whitespace-delimited segment (accents, lowercase, non-ASCII punctuation) only goes through
// normalize_and_split_segment when some character in it needs that. A character's `at` is its code point index in
// `text`, counting `pos` for byte `begin`; returns the index after `end`. Throws std::runtime_error naming the byte
// offset (in `text`) of invalid UTF-8.
template <typename Word>
uint32_t for_each_bert_word(std::string_view text, size_t begin, size_t end, uint32_t pos,
                            const BertNormalizerOptions& options, Word&& word) {
  using unicode::AlignedChar;
  const bool lower = options.lowercase, strip = options.strip_accents, chinese = options.chinese_chars;
  // The flags that send a segment through normalize_and_split_segment.
  const uint8_t slow_flags = unicode::kPunct | (strip ? unicode::kAccent : 0) | (lower ? unicode::kCased : 0);
  thread_local std::vector<AlignedChar> segment;
  segment.clear();
  bool slow = false;
  auto flush = [&] {
    if (segment.empty()) return;
    if (slow) {
      bert_detail::normalize_and_split_segment(segment, strip, lower, word);
    } else {
      word(static_cast<const AlignedChar*>(segment.data()), segment.size());
    }
    segment.clear();
    slow = false;
  };
  const uint8_t* bmp = unicode::bmp_flags();
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = begin; i < end;) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      switch (bert_detail::kAsciiClasses.cls[b]) {
        case bert_detail::kWord:
          segment.push_back({(lower && b >= 'A' && b <= 'Z') ? char32_t(b + 32) : char32_t(b), pos});
          break;
        case bert_detail::kBlank:
          flush();
          break;
        case bert_detail::kPunctuation: {
          flush();
          const AlignedChar single{b, pos};
          word(static_cast<const AlignedChar*>(&single), size_t{1});
          break;
        }
        case bert_detail::kDropped:
          break;
      }
      ++i;
      ++pos;
      continue;
    }
    char32_t cp;
    const size_t len = utf8::decode(s + i, end - i, cp);
    if (len == 0) bert_detail::throw_invalid_utf8(i);
    const uint8_t f = cp < 0x10000 ? bmp[cp] : unicode::astral_flags(cp);
    if (f & (unicode::kDrop | unicode::kSpace)) {
      if (!(f & unicode::kDrop)) flush();
    } else if ((f & unicode::kChinese) && chinese) {
      flush();
      segment.push_back({cp, pos});
      slow = (f & slow_flags) != 0;
      flush();
    } else {
      segment.push_back({cp, pos});
      slow = slow || (f & slow_flags) != 0;
    }
    i += len;
    ++pos;
  }
  flush();
  return pos;
}

// Words of one text, stored back to back: word i is bytes[ends[i-1], ends[i]) (UTF-8).
struct Words {
  std::string bytes;
  std::vector<size_t> ends;
  void clear() {
    bytes.clear();
    ends.clear();
  }
  size_t size() const { return ends.size(); }
  std::string_view operator[](size_t i) const {
    const size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
};

// The words a vocabulary trainer counts: no special tokens are matched and no word is too long.
class BertWordSplitter {
 public:
  explicit BertWordSplitter(BertNormalizerOptions options);
  // Appends the words of `text` to `out`. Throws std::runtime_error naming the byte offset of invalid UTF-8.
  void split(std::string_view text, Words& out) const;

 private:
  BertNormalizerOptions options_;
};

}  // namespace electra
