// Unigram as tokenizers' encode_optimized runs it (sentencepiece's Viterbi): the best-scoring path over the pieces
// that start at each character; a character no piece covers alone costs the unknown score; the best path's
// unknown stretches fuse into one token that keeps the text it covers.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "common/utf8.h"
#include "tokenizer/pipeline.h"

namespace electra::pipeline {

UnigramModel::UnigramModel(std::vector<std::pair<std::string, double>> pieces, int64_t unk_id)
    : pieces_(std::move(pieces)), unk_id_(unk_id) {
  if (unk_id_ < 0 || unk_id_ >= static_cast<int64_t>(pieces_.size())) {
    throw std::invalid_argument(fmt::format("unk_id {} is outside the {} pieces", unk_id_, pieces_.size()));
  }
  double min_score = std::numeric_limits<double>::max();
  ids_.reserve(pieces_.size());
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const std::string& text = pieces_[i].first;
    ids_.emplace(std::string_view(text), static_cast<int64_t>(i));  // a repeated piece keeps its first id
    min_score = std::min(min_score, pieces_[i].second);
    max_chars_ = std::max(max_chars_, static_cast<size_t>(utf8::length(text)));
  }
  unk_score_ = min_score - 10.0;
}

void UnigramModel::tokenize(const Chars& word, std::vector<Piece>& out) const {
  const size_t n = word.size();
  std::u32string cps(n, 0);
  for (size_t i = 0; i < n; ++i) cps[i] = word[i].cp;
  const std::string text = to_utf8(cps.data(), n);
  std::vector<size_t> byte_at(n + 1, 0);
  for (size_t i = 0; i < n; ++i) byte_at[i + 1] = byte_at[i] + to_utf8(&cps[i], 1).size();
  struct Node {
    int64_t id = -1;
    double score = 0;
    size_t start = SIZE_MAX;  // SIZE_MAX: not reached
  };
  std::vector<Node> best(n + 1);
  const auto offer = [&](size_t from, size_t to, int64_t id, double score) {
    Node& node = best[to];
    const double candidate = score + best[from].score;
    if (node.start == SIZE_MAX || candidate > node.score) node = Node{id, candidate, from};
  };
  for (size_t start = 0; start < n; ++start) {
    bool single = false;
    for (size_t len = 1; len <= max_chars_ && start + len <= n; ++len) {
      const auto it = ids_.find(std::string_view(text).substr(byte_at[start], byte_at[start + len] - byte_at[start]));
      if (it == ids_.end()) continue;
      offer(start, start + len, it->second, pieces_[static_cast<size_t>(it->second)].second);
      if (len == 1) single = true;
    }
    if (!single) offer(start, start + 1, unk_id_, unk_score_);
  }
  std::vector<Piece> reversed;
  size_t unk_end = SIZE_MAX;  // end of the pending unknown stretch
  const auto emit = [&](size_t from, size_t to) {
    std::string piece = text.substr(byte_at[from], byte_at[to] - byte_at[from]);
    const auto it = ids_.find(piece);
    reversed.push_back(Piece{it == ids_.end() ? unk_id_ : it->second, std::move(piece), from, to});
  };
  for (size_t end = n; end > 0;) {
    const Node& node = best[end];
    if (node.id == unk_id_) {
      if (unk_end == SIZE_MAX) unk_end = end;
    } else {
      if (unk_end != SIZE_MAX) emit(end, unk_end);
      unk_end = SIZE_MAX;
      emit(node.start, end);
    }
    end = node.start;
  }
  if (unk_end != SIZE_MAX) emit(0, unk_end);
  out.insert(out.end(), std::make_move_iterator(reversed.rbegin()), std::make_move_iterator(reversed.rend()));
}

}  // namespace electra::pipeline
