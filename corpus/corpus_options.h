// What every part of the pre-training data shares: the corpus options (CorpusOptions, checked by validate), the
// example they produce (PretrainingExample), and the per-epoch seed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace electra {

struct CorpusOptions {
  std::vector<std::filesystem::path> files;  // UTF-8 text files, or prepared shard folders (see is_shard_dir)
  // "blank_line": one sentence or paragraph per line and a blank line between documents (BERT's and ELECTRA's
  // format); "line": one document per line (reviews, comments: NSMC's documents).
  std::string document_format = "blank_line";
  bool split_sentences = true;       // a line is split into sentences before packing
  int64_t max_seq_length = 128;      // tokens of an example, [CLS] and [SEP]s included
  double short_seq_prob = 0.05;      // chance that the next example targets a random length in [5, max_seq_length]
  double single_segment_prob = 0.1;  // chance that an example puts every sentence in its first segment
  int64_t shuffle_buffer = 10000;    // examples held to shuffle the stream; <= 1: file order
  uint64_t seed = 0;
  int64_t queue_capacity = 4096;     // examples the producer thread may hold ready for next()
};

// Throws std::invalid_argument for options that cannot be used (unknown document_format, max_seq_length outside
// [5, 65535], probabilities outside [0, 1], queue_capacity < 1).
void validate(const CorpusOptions& options);

// One example: input_ids = [CLS] A [SEP] (B [SEP]), at most max_seq_length ids, no padding.
struct PretrainingExample {
  std::vector<int32_t> input_ids;
  int32_t first_segment_length = 0;  // ids of [CLS] A [SEP] (token type 0); the rest have token type 1
};

// The seed of epoch `epoch`'s packing and shuffle (splitmix64 of both): epochs of one seed differ, runs do not.
uint64_t epoch_seed(uint64_t seed, int64_t epoch);

}  // namespace electra
