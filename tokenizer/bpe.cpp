// BPE as tokenizers' Word::merge_all runs it: every adjacent pair with a merge goes into a queue ordered by rank,
// then position; the best is merged, stale entries are skipped, the new neighbours' pairs are queued.
#include <fmt/format.h>

#include <queue>
#include <stdexcept>

#include "tokenizer/pipeline.h"
#include "tokenizer/tokenizer.h"

namespace electra::pipeline {
namespace {

uint64_t pair_key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }

struct Symbol {
  int64_t id;
  size_t bytes;  // UTF-8 length of the normalized text it covers
  int prev, next;
};

struct Merge {
  uint32_t rank;
  int pos;
  int64_t new_id;
  bool operator<(const Merge& other) const {  // std::priority_queue pops the largest: make that the best
    if (rank != other.rank) return rank > other.rank;
    return pos > other.pos;
  }
};

}  // namespace

BpeModel::BpeModel(std::unordered_map<std::string, int64_t> vocab, std::vector<std::string> id_to_token,
                   const std::vector<std::pair<std::string, std::string>>& merges, std::string unk_token,
                   bool fuse_unk, bool ignore_merges)
    : vocab_(std::move(vocab)), id_to_token_(std::move(id_to_token)), fuse_unk_(fuse_unk), ignore_merges_(ignore_merges) {
  const auto& vocab_map = vocab_;
  const auto id_of = [&](const std::string& token, size_t rank) {
    const auto it = vocab_map.find(token);
    if (it == vocab_map.end()) {
      throw std::invalid_argument(fmt::format("merge {} ('{}'): '{}' is not in the vocabulary", rank,
                                              merges[rank].first + " " + merges[rank].second, token));
    }
    return it->second;
  };
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const int64_t a = id_of(left, rank), b = id_of(right, rank), merged = id_of(left + right, rank);
    merges_.emplace(pair_key(a, b), std::make_pair(static_cast<uint32_t>(rank), merged));  // the first rank wins
  }
  if (!unk_token.empty()) {
    const auto it = vocab_.find(unk_token);
    if (it == vocab_.end()) throw std::invalid_argument(fmt::format("unk_token '{}' is not in the vocabulary", unk_token));
    unk_id_ = it->second;
  }
}

void BpeModel::tokenize(const Chars& word, std::vector<Piece>& out) const {
  std::vector<std::string> texts(word.size());
  std::vector<size_t> byte_at(word.size() + 1, 0);  // byte offset of each character in the word
  for (size_t i = 0; i < word.size(); ++i) {
    texts[i] = to_utf8(&word[i].cp, 1);
    byte_at[i + 1] = byte_at[i] + texts[i].size();
  }
  // Piece of the bytes [from, to) of the word, as character indices.
  const auto piece = [&](int64_t id, size_t from, size_t to) {
    size_t a = 0, b = 0;
    while (byte_at[a + 1] <= from) ++a;
    while (byte_at[b] < to) ++b;
    out.push_back(Piece{id, id_to_token_[static_cast<size_t>(id)], a, b});
  };
  if (ignore_merges_) {
    std::string whole;
    for (const std::string& t : texts) whole += t;
    if (const auto it = vocab_.find(whole); it != vocab_.end()) return piece(it->second, 0, whole.size());
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  int64_t unk_bytes = -1;  // pending unknown bytes (-1: none)
  const auto add = [&](int64_t id, size_t bytes) {
    const int n = static_cast<int>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back(Symbol{id, bytes, n - 1, -1});
  };
  for (size_t i = 0; i < word.size(); ++i) {
    const size_t bytes = texts[i].size();
    if (const auto it = vocab_.find(texts[i]); it != vocab_.end()) {
      if (unk_bytes >= 0) add(unk_id_, static_cast<size_t>(unk_bytes));
      unk_bytes = -1;
      add(it->second, bytes);
    } else if (unk_id_ >= 0) {
      if (unk_bytes >= 0 && !fuse_unk_) add(unk_id_, static_cast<size_t>(unk_bytes));
      unk_bytes = (unk_bytes >= 0 && fuse_unk_) ? unk_bytes + static_cast<int64_t>(bytes) : static_cast<int64_t>(bytes);
    }  // without an unk token an unknown character is dropped (its bytes too: later offsets shift, as in tokenizers)
  }
  if (unk_bytes >= 0) add(unk_id_, static_cast<size_t>(unk_bytes));

  std::priority_queue<Merge> queue;
  const auto find = [&](int64_t a, int64_t b) { return merges_.find(pair_key(a, b)); };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const auto m = find(symbols[i].id, symbols[i + 1].id); m != merges_.end()) {
      queue.push(Merge{m->second.first, static_cast<int>(i), m->second.second});
    }
  }
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& current = symbols[static_cast<size_t>(top.pos)];
    if (current.bytes == 0 || current.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(current.next)];
    const auto m = find(current.id, right.id);
    if (m == merges_.end() || m->second.second != top.new_id) continue;
    current.id = top.new_id;
    current.bytes += right.bytes;
    right.bytes = 0;
    current.next = right.next;
    if (current.next >= 0) symbols[static_cast<size_t>(current.next)].prev = top.pos;
    if (current.prev >= 0) {
      if (const auto p = find(symbols[static_cast<size_t>(current.prev)].id, current.id); p != merges_.end()) {
        queue.push(Merge{p->second.first, current.prev, p->second.second});
      }
    }
    if (current.next >= 0) {
      if (const auto n = find(current.id, symbols[static_cast<size_t>(current.next)].id); n != merges_.end()) {
        queue.push(Merge{n->second.first, top.pos, n->second.second});
      }
    }
  }
  size_t offset = 0;
  for (const Symbol& s : symbols) {
    if (s.bytes == 0) continue;
    piece(s.id, offset, offset + s.bytes);
    offset += s.bytes;
  }
}

}  // namespace electra::pipeline
