// The merge queue of vocabulary training: Rust's std::collections::BinaryHeap (a max-heap), reproduced so that
// entries of equal priority come out in the order Hugging Face tokenizers' BpeTrainer queue gives them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace electra::merge_queue {

inline uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

struct Entry {
  int64_t count;
  uint64_t pair;  // (left id << 32) | right id: compares as the Rust tuple does
  std::vector<uint32_t> pos;  // indices of the words where the pair was seen
};

// tokenizers' Merge ordering: the larger count first, then the smaller pair.
inline bool less(const Entry& a, const Entry& b) {
  if (a.count != b.count) return a.count < b.count;
  return a.pair > b.pair;
}
inline bool less_equal(const Entry& a, const Entry& b) { return !less(b, a); }

class MergeQueue {
 public:
  bool empty() const { return data_.empty(); }
  void push(Entry entry) {
    data_.push_back(std::move(entry));
    sift_up(0, data_.size() - 1);
  }
  Entry pop() {
    Entry item = std::move(data_.back());
    data_.pop_back();
    if (!data_.empty()) {
      std::swap(item, data_[0]);
      sift_down_to_bottom(0);
    }
    return item;
  }

 private:
  size_t sift_up(size_t start, size_t pos) {
    Entry hole = std::move(data_[pos]);
    while (pos > start) {
      const size_t parent = (pos - 1) / 2;
      if (less_equal(hole, data_[parent])) break;
      data_[pos] = std::move(data_[parent]);
      pos = parent;
    }
    data_[pos] = std::move(hole);
    return pos;
  }
  void sift_down_to_bottom(size_t pos) {
    const size_t end = data_.size();
    const size_t start = pos;
    Entry hole = std::move(data_[pos]);
    size_t child = 2 * pos + 1;
    while (child + 2 <= end) {  // child <= end - 2
      if (less_equal(data_[child], data_[child + 1])) ++child;
      data_[pos] = std::move(data_[child]);
      pos = child;
      child = 2 * pos + 1;
    }
    if (end > 0 && child == end - 1) {
      data_[pos] = std::move(data_[child]);
      pos = child;
    }
    data_[pos] = std::move(hole);
    sift_up(start, pos);
  }
  std::vector<Entry> data_;
};

}  // namespace electra::merge_queue
