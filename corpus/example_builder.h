// Packing of sentences' token ids into `[CLS] A [SEP] (B [SEP])` examples, the way ExampleBuilder of ELECTRA's
// build_pretraining_dataset.py packs them, every random choice drawn from one seed.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "corpus/corpus_options.h"

namespace electra {

// Packs sentences' token ids into examples the way ExampleBuilder of ELECTRA's build_pretraining_dataset.py does:
// sentences accumulate until their length reaches the target length (max_seq_length, or with short_seq_prob a random
// length in [5, max_seq_length] after each example); then with single_segment_prob every sentence goes to segment A,
// else A takes sentences up to (target - 3) / 2 tokens (a sentence that would cross that bound goes to A with
// chance 1/2 while B is empty and A is short of it) and B the rest; A is cut to max - 2 and B to max - |A| - 3 tokens.
// Every random choice comes from a std::mt19937_64 seeded with `seed`. Sentences without tokens are ignored.
class ExampleBuilder {
 public:
  ExampleBuilder(const CorpusOptions& options, int32_t cls_id, int32_t sep_id, uint64_t seed);
  // Adds one sentence; true (and `out` filled) when it completed an example.
  bool add_sentence(const std::vector<int32_t>& ids, PretrainingExample& out);
  // Ends a document: true (and `out` filled) when sentences were pending.
  bool end_document(PretrainingExample& out);
  int64_t target_length() const { return target_length_; }

 private:
  void create_example(PretrainingExample& out);
  double uniform();  // [0, 1), the same on every platform (std distributions are not)

  int64_t max_length_, target_length_;
  double short_seq_prob_, single_segment_prob_;
  int32_t cls_id_, sep_id_;
  std::vector<std::vector<int32_t>> sentences_;
  int64_t length_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace electra
