// The pipeline path of Tokenizer (BPE, Unigram): special tokens matched in the raw text, the stretches between
// them through normalizers, pre-tokenizers and the model, then the post-processor's template.
#include "tokenizer/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "common/utf8.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/truncation.h"

namespace electra {
namespace pipeline {

// RobertaProcessing's trim_offsets (tokenizers' byte_level process_offsets): the offsets leave out the leading and
// trailing spaces of the token's text ('Ġ' or whitespace), except a single leading space of the first token when
// the processor adds a prefix space.
void trim(Token& token, bool first, bool add_prefix_space) {
  std::u32string text;
  utf8::decode_all(token.text, text);
  const auto space = [](char32_t c) { return c == 0x120 || is_white_space(c); };
  size_t leading = 0, trailing = 0;
  while (leading < text.size() && space(text[leading])) ++leading;
  while (trailing < text.size() && space(text[text.size() - 1 - trailing])) ++trailing;
  if (leading > 0) {
    if ((first || token.begin == 0) && add_prefix_space && leading == 1) leading = 0;
    token.begin = std::min(token.begin + static_cast<int64_t>(leading), token.end);
  }
  if (trailing > 0 && token.end >= static_cast<int64_t>(trailing)) {
    token.end = std::max(token.end - static_cast<int64_t>(trailing), token.begin);
  }
}

void Pipeline::tokenize(std::string_view text, uint32_t at, std::vector<Token>& out,
                        std::vector<bool>* word_start) const {
  Chars chars;
  chars.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    i += utf8::decode(text, i, cp);
    chars.push_back({cp, at, at + 1});
    ++at;
  }
  const uint32_t first = chars.empty() ? at : chars[0].begin;
  for (const Normalizer& step : normalizers) normalize(step, chars, first);
  std::vector<Chars> words;
  words.push_back(std::move(chars));
  for (const PreTokenizer& step : pre_tokenizers) pre_tokenize(step, words, first == 0);
  std::vector<Piece> pieces;
  for (const Chars& word : words) {
    if (word.empty()) continue;
    pieces.clear();
    model->tokenize(word, pieces);
    for (size_t k = 0; k < pieces.size(); ++k) {
      Piece& piece = pieces[k];
      uint32_t begin = std::numeric_limits<uint32_t>::max(), end = 0;
      for (size_t c = piece.from; c < piece.to; ++c) {
        begin = std::min(begin, word[c].begin);
        end = std::max(end, word[c].end);
      }
      Token token{std::move(piece.text), piece.id, begin, end};
      if (trim_offsets) trim(token, out.empty(), trim_add_prefix_space);
      out.push_back(std::move(token));
      if (word_start) word_start->push_back(k == 0);
    }
  }
}

}  // namespace pipeline

void Tokenizer::pipeline_tokenize_into(std::string_view text, std::vector<Token>& out,
                                       std::vector<uint8_t>* marks) const {
  if (text.size() >= std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument(fmt::format("text of {} bytes is too long to tokenize", text.size()));
  }
  if (const size_t bad = utf8::find_invalid(text); bad != text.size()) {
    throw std::runtime_error(fmt::format("invalid UTF-8 at byte {} of the text", bad));
  }
  std::vector<bool> starts;
  const auto stretch = [&](size_t from, size_t to, uint32_t pos) {
    const size_t before = out.size();
    starts.clear();
    pipeline_->tokenize(text.substr(from, to - from), pos, out, marks ? &starts : nullptr);
    if (marks) {
      for (size_t i = before; i < out.size(); ++i) {
        marks->push_back(starts[i - before] ? tokenizer_detail::kWordMark : tokenizer_detail::kContinuationMark);
      }
    }
  };
  size_t from = 0;
  uint32_t pos = 0;  // code point index of text[from]
  const auto space_before = [&](size_t at, size_t& width) {  // whitespace character ending at byte `at`
    size_t start = at - 1;
    while (start > from && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    char32_t cp = 0;
    width = utf8::decode(text, start, cp);
    return start + width == at && pipeline::is_white_space(cp);
  };
  for (size_t i = 0; i < text.size() && !specials_.empty(); ++i) {
    if (!special_lead_[static_cast<unsigned char>(text[i])]) continue;
    const Special* special = match_special(text, i);
    if (!special) continue;
    // lstrip/rstrip (tokenizers' AddedToken): the match takes in the whitespace before/after it, and so does the
    // token's text.
    size_t begin = i, end = i + special->text.size(), width = 0;
    while (special->lstrip && begin > from && space_before(begin, width)) begin -= width;
    char32_t cp = 0;
    while (special->rstrip && end < text.size() && (width = utf8::decode(text, end, cp), pipeline::is_white_space(cp))) {
      end += width;
    }
    stretch(from, begin, pos);
    pos += static_cast<uint32_t>(utf8::length(text.substr(from, begin - from)));
    const std::string_view matched = text.substr(begin, end - begin);
    const auto chars = static_cast<uint32_t>(utf8::length(matched));
    Token token{std::string(matched), special->id, pos, pos + chars};
    if (pipeline_->trim_offsets) pipeline::trim(token, out.empty(), pipeline_->trim_add_prefix_space);
    out.push_back(std::move(token));
    if (marks) marks->push_back(tokenizer_detail::kSpecialMark);
    pos += chars;
    from = end;
    i = from - 1;
  }
  stretch(from, text.size(), pos);
}

Encoding Tokenizer::encode_pipeline(std::string_view text, std::optional<std::string_view> text_pair,
                                    const EncodeOptions& options) const {
  int64_t specials = 0;
  for (const TemplatePiece& piece : text_pair ? pair_ : single_) {
    if (piece.sequence < 0) specials += static_cast<int64_t>(piece.tokens.size());
  }
  // As in encode(): below the count of special tokens nothing is truncated but each sequence stops after
  // max_length tokens' word; longest_first on a pair compares those lengths.
  const bool below_specials = options.truncation != Truncation::none && options.max_length > 0 &&
                              options.max_length < specials;
  const bool limited =
      (options.truncation == Truncation::longest_first && options.max_length > 0 && text_pair) || below_specials;
  std::vector<uint8_t> marks_a, marks_b;
  std::vector<Token> a;
  a.reserve(text.size() / 3 + 4);
  pipeline_tokenize_into(text, a, limited ? &marks_a : nullptr);
  std::optional<std::vector<Token>> b;
  if (text_pair) {
    b.emplace();
    b->reserve(text_pair->size() / 3 + 4);
    pipeline_tokenize_into(*text_pair, *b, limited ? &marks_b : nullptr);
  }
  size_t seen_a = a.size(), seen_b = b ? b->size() : 0;
  if (limited) {
    seen_a = tokenizer_detail::seen_length(marks_a, static_cast<size_t>(options.max_length));
    if (b) seen_b = tokenizer_detail::seen_length(marks_b, static_cast<size_t>(options.max_length));
  }
  if (below_specials) {
    if (options.truncation != Truncation::only_second) a.resize(seen_a);
    if (b) b->resize(seen_b);
    EncodeOptions untruncated = options;
    untruncated.truncation = Truncation::none;
    const size_t na = a.size(), nb = b ? b->size() : 0;
    return assemble_template(std::move(a), std::move(b), na, nb, untruncated);
  }
  return assemble_template(std::move(a), std::move(b), seen_a, seen_b, options);
}

Encoding Tokenizer::assemble_template(std::vector<Token> a, std::optional<std::vector<Token>> b, size_t seen_a,
                                      size_t seen_b, const EncodeOptions& options) const {
  const std::vector<TemplatePiece>& pieces = b ? pair_ : single_;
  int64_t specials = 0;
  for (const TemplatePiece& piece : pieces) {
    if (piece.sequence < 0) specials += static_cast<int64_t>(piece.tokens.size());
  }
  if (options.padding == Padding::max_length && options.max_length <= 0) {
    throw std::invalid_argument("padding 'max_length' needs a positive max_length");
  }
  if (options.truncation != Truncation::none && options.max_length > 0) {
    if (options.max_length < specials) {
      throw std::invalid_argument(fmt::format("max_length {} is smaller than the {} special tokens of a{}",
                                              options.max_length, specials, b ? " pair" : " single text"));
    }
    size_t na = a.size(), nb = b ? b->size() : 0;
    tokenizer_detail::truncate_lengths(na, nb, seen_a, seen_b, b.has_value(),
                                       static_cast<size_t>(options.max_length - specials), options.truncation);
    a.resize(na);
    if (b) b->resize(nb);
  }
  Encoding e;
  auto add = [&](std::string token, int64_t id, int64_t type, std::pair<int64_t, int64_t> offsets, int sequence) {
    e.tokens.push_back(std::move(token));
    e.input_ids.push_back(id);
    e.token_type_ids.push_back(type);
    e.attention_mask.push_back(1);
    e.offsets.push_back(offsets);
    e.sequence_ids.push_back(sequence);
  };
  for (const TemplatePiece& piece : pieces) {
    if (piece.sequence < 0) {
      for (const auto& [token, id] : piece.tokens) add(token, id, piece.type_id, {0, 0}, -1);
      continue;
    }
    for (Token& t : piece.sequence == 0 ? a : *b) {
      add(std::move(t.text), t.id, piece.type_id, {t.begin, t.end}, piece.sequence);
    }
  }
  if (options.padding == Padding::max_length) pad(e, options.max_length);
  return e;
}

}  // namespace electra
