// The words that Hugging Face's BertNormalizer + BertPreTokenizer make of a text: what tokenizers' trainers count.
// Same rules as Tokenizer (cleaning, CJK spacing, accents, lowercase, whitespace and punctuation splits), but no
// special tokens are matched and no word is too long: a vocabulary trainer sees the text as plain words.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

namespace electra {

struct BertNormalizerOptions {
  bool lowercase = true;
  bool strip_accents = true;  // tokenizers' None follows `lowercase`; the caller resolves it
  bool chinese_chars = true;  // put spaces around CJK ideographs (handle_chinese_chars)
};

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

class BertWordSplitter {
 public:
  explicit BertWordSplitter(BertNormalizerOptions options);
  // Appends the words of `text` to `out`. Throws std::runtime_error naming the byte offset of invalid UTF-8.
  void split(std::string_view text, Words& out) const;

 private:
  void flush(std::vector<unicode::AlignedChar>& segment, bool slow, Words& out) const;
  BertNormalizerOptions options_;
  uint8_t slow_flags_ = 0;  // unicode::CharFlag bits that send a segment through accent stripping and lowercasing
};

}  // namespace electra
