// The largest value of each size or count a user can type (config keys, `--set`, flags), checked when the options
// are read, before any data is read or memory allocated. Generous for real use: each is at or above the largest
// published setting it bounds. docs/limits.md is the table.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace electra::limits {

// Examples per batch: fine-tuning, evaluation, prediction, pre-training (LAMB trained BERT at 65,536).
inline constexpr int64_t kBatchSize = 65536;
// Tokens per sequence (max_seq_length, --max-length, model.max_position_embeddings); the model's own
// max_position_embeddings bounds a length further when the model is read.
inline constexpr int64_t kSequenceLength = int64_t{1} << 20;
// Optimizer steps, step intervals (save, eval, logging, warmup), patience, examples kept, the step of --stop-after.
inline constexpr int64_t kSteps = 1'000'000'000;
inline constexpr double kEpochs = 1'000'000;
inline constexpr int64_t kSeeds = 1000;            // seeds (runs) of one experiment
inline constexpr int64_t kResamples = 1'000'000;   // bootstrap resamples (--bootstrap)
inline constexpr int64_t kShuffleBuffer = int64_t{1} << 20;  // pre-training examples held for shuffling
inline constexpr int64_t kProcesses = 256;         // local ranks of --nproc
inline constexpr double kTimeoutSeconds = 7 * 24 * 3600.0;  // --dist-timeout: a week

// Model shapes (config.json, pre-training's model.* keys, `init`): above the largest published models (Llama 3
// 405B: H=16,384, 126 layers, 128 heads, I=53,248; T5-XXL: I=65,536; XLM-R: 250,002 entries).
inline constexpr int64_t kVocabSize = int64_t{1} << 22;
inline constexpr int64_t kEmbeddingSize = 16384;
inline constexpr int64_t kHiddenSize = 16384;
inline constexpr int64_t kLayers = 256;
inline constexpr int64_t kAttentionHeads = 512;
inline constexpr int64_t kIntermediateSize = 65536;
inline constexpr int64_t kPositions = kSequenceLength;
inline constexpr int64_t kTypeVocabSize = int64_t{1} << 16;
inline constexpr int64_t kLabels = 20000;

// The rule of a value above `limit`, for a message that already names the key and the value.
inline std::string above(int64_t limit) { return fmt::format("above the limit {} (docs/limits.md)", limit); }
inline std::string above(double limit) { return fmt::format("above the limit {} (docs/limits.md)", limit); }

}  // namespace electra::limits
