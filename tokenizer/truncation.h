// Truncation lengths as tokenizers 0.23 computes them (right side, no stride), shared by the WordPiece and the
// pipeline encoders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace electra::tokenizer_detail {

// Length tokenizers compares for longest_first: it stops encoding a sequence after the word that brings the
// count to `max_length` (see truncation.cpp). WordPiece: continuation pieces start with "##".
size_t seen_length(const std::vector<Token>& tokens, const std::vector<bool>& special, size_t max_length);
// The same from a mark per token: a word's first token, a continuation, or a special token matched in the text.
constexpr uint8_t kWordMark = 0, kContinuationMark = 1, kSpecialMark = 2;
size_t seen_length(const std::vector<uint8_t>& marks, size_t max_length);

// Token budget after truncation (tokenizers' truncate_encodings); `seen_a`/`seen_b` from seen_length.
// Throws std::invalid_argument when only_first/only_second cannot remove enough.
void truncate_lengths(size_t& na, size_t& nb, size_t seen_a, size_t seen_b, bool pair, size_t limit,
                      Truncation truncation);

}  // namespace electra::tokenizer_detail
