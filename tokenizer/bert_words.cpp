#include "tokenizer/bert_words.h"

#include <fmt/format.h>

#include <stdexcept>

namespace electra {

void bert_detail::throw_invalid_utf8(size_t at) {
  throw std::runtime_error(fmt::format("invalid UTF-8 at byte {} of the text", at));
}

BertWordSplitter::BertWordSplitter(BertNormalizerOptions options) : options_(options) {
  unicode::bmp_flags();  // build the table now rather than inside the first call
}

void BertWordSplitter::split(std::string_view text, Words& out) const {
  for_each_bert_word(text, 0, text.size(), 0, options_, [&](const unicode::AlignedChar* chars, size_t n) {
    for (size_t i = 0; i < n; ++i) utf8::append(chars[i].cp, out.bytes);
    out.ends.push_back(out.bytes.size());
  });
}

}  // namespace electra
