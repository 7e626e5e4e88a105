#include "corpus/corpus_options.h"

#include <fmt/format.h>

#include <stdexcept>

#include "corpus/draws.h"

namespace electra {

void validate(const CorpusOptions& options) {
  if (options.document_format != "blank_line" && options.document_format != "line")
    throw std::invalid_argument(
        fmt::format("unknown document_format '{}' (known: blank_line, line)", options.document_format));
  if (options.max_seq_length < 5 || options.max_seq_length > 65535)
    throw std::invalid_argument(fmt::format("max_seq_length must be in [5, 65535], got {}", options.max_seq_length));
  if (!(options.short_seq_prob >= 0 && options.short_seq_prob <= 1))
    throw std::invalid_argument(fmt::format("short_seq_prob must be in [0, 1], got {}", options.short_seq_prob));
  if (!(options.single_segment_prob >= 0 && options.single_segment_prob <= 1))
    throw std::invalid_argument(
        fmt::format("single_segment_prob must be in [0, 1], got {}", options.single_segment_prob));
  if (options.queue_capacity < 1)
    throw std::invalid_argument(fmt::format("queue_capacity must be at least 1, got {}", options.queue_capacity));
}

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return splitmix64(splitmix64(seed) ^ splitmix64(static_cast<uint64_t>(epoch) + 0x5851f42d4c957f2dULL));
}

}  // namespace electra
