#include "tokenizer/wordpiece_trie.h"

#include <stdexcept>
#include <utility>

#include "common/utf8.h"

namespace electra {

WordPieceTrie::WordPieceTrie() : slots_(1024, Slot{kEmpty, kNone}), mask_(1023), shift_(64 - 10), ids_(2, -1) {}

void WordPieceTrie::insert(std::string_view entry, int32_t id) {
  insert_path(kInitialRoot, entry, id);
  if (entry.size() > kContinuationPrefix.size() && entry.substr(0, kContinuationPrefix.size()) == kContinuationPrefix) {
    insert_path(kContinuationRoot, entry.substr(kContinuationPrefix.size()), id);
  }
}

void WordPieceTrie::insert_path(uint32_t root, std::string_view text, int32_t id) {
  if (text.empty()) return;  // an empty piece never matches
  uint32_t node = root;
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const size_t len = utf8::decode(text, i, cp);
    if (len == 0) throw std::invalid_argument("vocabulary entry is not valid UTF-8");
    i += len;
    uint32_t next = child(node, cp);
    if (next == kNone) {
      if (2 * (edges_ + 1) > slots_.size()) grow();
      next = static_cast<uint32_t>(ids_.size());
      ids_.push_back(-1);
      const uint64_t key = key_of(node, cp);
      size_t slot = slot_of(key);
      while (slots_[slot].key != kEmpty) slot = (slot + 1) & mask_;
      slots_[slot] = Slot{key, next};
      ++edges_;
    }
    node = next;
  }
  ids_[node] = id;
}

void WordPieceTrie::grow() {
  std::vector<Slot> old(slots_.size() * 2, Slot{kEmpty, kNone});
  std::swap(old, slots_);
  mask_ = slots_.size() - 1;
  --shift_;
  for (const Slot& slot : old) {
    if (slot.key == kEmpty) continue;
    size_t s = slot_of(slot.key);
    while (slots_[s].key != kEmpty) s = (s + 1) & mask_;
    slots_[s] = slot;
  }
}

}  // namespace electra
