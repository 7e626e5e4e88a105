// Truncation as tokenizers 0.23 does it (see truncation.h).
#include "tokenizer/truncation.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "tokenizer/wordpiece_trie.h"

namespace electra::tokenizer_detail {

// Length tokenizers (0.23) compares when longest_first decides which sequence is the longer: with truncation
// on, it stops encoding a sequence after the first word (pre-tokenized split) that brings the count of tokens,
// special tokens found in the text included, to `max_length`; a special token itself never stops it.
// Found by probing tokenizers; `special[i]` tells whether tokens[i] is a special token matched in the text.
size_t seen_length(const std::vector<Token>& tokens, const std::vector<bool>& special, size_t max_length) {
  size_t i = 0;
  while (i < tokens.size()) {
    if (special[i]) {
      ++i;
      continue;
    }
    ++i;  // the first piece of a word, then its continuation pieces
    while (i < tokens.size() && !special[i] &&
           tokens[i].text.compare(0, WordPieceTrie::kContinuationPrefix.size(), WordPieceTrie::kContinuationPrefix) ==
               0) {
      ++i;
    }
    if (i >= max_length) return i;
  }
  return tokens.size();
}

// Token budget after truncation, mirroring tokenizers' truncate_encodings (direction right, no stride).
// `seen_a`/`seen_b`: the lengths tokenizers compares for longest_first (see seen_length).
void truncate_lengths(size_t& na, size_t& nb, size_t seen_a, size_t seen_b, bool pair, size_t limit,
                      Truncation truncation) {
  if (limit == 0) {  // tokenizers empties both sequences for a zero budget, whatever the strategy
    na = nb = 0;
    return;
  }
  const size_t total = na + nb;
  if (total <= limit) return;
  const size_t to_remove = total - limit;
  switch (truncation) {
    case Truncation::none:
      return;
    case Truncation::longest_first: {
      if (!pair) {
        na = limit;
        return;
      }
      size_t n1 = seen_a, n2 = seen_b;
      const bool swapped = n1 > n2;
      if (swapped) std::swap(n1, n2);
      n2 = n1 > limit ? n1 : std::max(n1, limit - n1);
      if (n1 + n2 > limit) {
        n1 = limit / 2;
        n2 = n1 + limit % 2;
      }
      if (swapped) std::swap(n1, n2);
      na = std::min(na, n1);
      nb = std::min(nb, n2);
      return;
    }
    case Truncation::only_first:
    case Truncation::only_second: {
      const bool first = truncation == Truncation::only_first;
      if (!first && !pair) throw std::invalid_argument("truncation 'only_second' needs a text pair");
      size_t& target = first ? na : nb;
      if (target <= to_remove) {
        throw std::invalid_argument(fmt::format(
            "truncation '{}': the {} sequence has {} tokens, too few to remove the {} needed to fit max_length "
            "({} tokens besides the special tokens)",
            first ? "only_first" : "only_second", first ? "first" : "second", target, to_remove, limit));
      }
      target -= to_remove;
      return;
    }
  }
}

size_t seen_length(const std::vector<uint8_t>& marks, size_t max_length) {
  size_t i = 0;
  while (i < marks.size()) {
    if (marks[i] == kSpecialMark) {
      ++i;
      continue;
    }
    ++i;
    while (i < marks.size() && marks[i] == kContinuationMark) ++i;
    if (i >= max_length) return i;
  }
  return marks.size();
}

}  // namespace electra::tokenizer_detail
