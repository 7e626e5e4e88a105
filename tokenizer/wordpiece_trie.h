// Vocabulary lookup for greedy longest-match-first WordPiece: a trie over code points, one root for
// word-initial pieces and one for "##" continuation pieces (stored without the prefix). Lookups build no strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

namespace electra {

class WordPieceTrie {
 public:
  static constexpr std::string_view kContinuationPrefix = "##";

  WordPieceTrie();
  // Adds a vocabulary entry (valid UTF-8): as an initial piece, and as a continuation piece when it starts
  // with "##" and has more after it. An entry added again replaces the id.
  void insert(std::string_view entry, int32_t id);
  // Longest piece that is a prefix of chars[0, n); returns its length in code points (0: none) and sets `id`.
  size_t longest(const unicode::AlignedChar* chars, size_t n, bool continuation, int32_t& id) const {
    uint32_t node = continuation ? kContinuationRoot : kInitialRoot;
    size_t best = 0;
    for (size_t i = 0; i < n; ++i) {
      node = child(node, chars[i].cp);
      if (node == kNone) break;
      if (ids_[node] >= 0) {
        best = i + 1;
        id = ids_[node];
      }
    }
    return best;
  }

 private:
  static constexpr uint32_t kInitialRoot = 0, kContinuationRoot = 1, kNone = UINT32_MAX;
  static constexpr uint64_t kEmpty = UINT64_MAX;
  struct Slot {
    uint64_t key;  // parent node << 21 | code point
    uint32_t child;
  };

  static uint64_t key_of(uint32_t node, char32_t cp) { return (uint64_t{node} << 21) | cp; }
  size_t slot_of(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  uint32_t child(uint32_t node, char32_t cp) const {
    const uint64_t key = key_of(node, cp);
    for (size_t s = slot_of(key);; s = (s + 1) & mask_) {
      if (slots_[s].key == key) return slots_[s].child;
      if (slots_[s].key == kEmpty) return kNone;
    }
  }
  void insert_path(uint32_t root, std::string_view text, int32_t id);
  void grow();

  std::vector<Slot> slots_;  // open addressing, linear probing, load factor <= 1/2
  size_t mask_ = 0;
  int shift_ = 64;
  size_t edges_ = 0;
  std::vector<int32_t> ids_;  // per node: vocabulary id, or -1 when no entry ends there
};

}  // namespace electra
