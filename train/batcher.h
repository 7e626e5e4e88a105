// Turns features into padded batches: a seeded order per epoch, and each batch padded to the smallest bucket
// length (a multiple of `bucket_multiple`, at most `max_length`) that holds its longest feature.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "model/electra.h"
#include "tasks/task.h"

namespace electra {

struct Batch {
  at::Tensor input_ids, attention_mask, token_type_ids;  // [B, T] long
  ModelTargets targets;
  std::vector<int64_t> feature_indices;  // which features, in row order
  int64_t real_tokens = 0;               // non-padding positions
};

// Moves the batch's tensors (inputs and targets) to `device`; nothing to do for the CPU.
void move_to(Batch& batch, const c10::Device& device);

// Bucket length for a longest sequence of `longest` tokens.
int64_t bucket_length(int64_t longest, int64_t bucket_multiple, int64_t max_length);

// Rows `indices` of `features`, padded to the bucket length; targets per `head` when `with_targets`.
Batch collate(const std::vector<Feature>& features, const std::vector<int64_t>& indices, HeadKind head,
              int64_t bucket_multiple, int64_t max_length, bool with_targets);

// The order of the features in epoch `epoch` for `seed`: a permutation from a generator seeded by (seed, epoch),
// the same on every platform and after a resume.
std::vector<int64_t> epoch_order(int64_t num_features, int64_t seed, int64_t epoch);

// Consecutive index groups of at most `batch_size` (the last may be smaller).
std::vector<std::vector<int64_t>> chunk(const std::vector<int64_t>& order, int64_t batch_size);

}  // namespace electra
