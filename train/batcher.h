// Turns features into padded batches: a seeded order per epoch, and each batch padded to the smallest bucket
// length (a multiple of `bucket_multiple`, at most `max_length`) that holds its longest feature.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "architectures/electra_model.h"
#include "tasks/task.h"

namespace electra {

struct Batch {
  at::Tensor input_ids, attention_mask, token_type_ids;  // [B, T] long
  ModelTargets targets;
  std::vector<int64_t> feature_indices;  // which features, in row order
  int64_t real_tokens = 0;               // non-padding positions
  // This rank's share of the loss of the micro-batch it was cut from: its loss terms / the micro-batch's (1 for a
  // whole micro-batch; 0: nothing to compute here).
  double loss_weight = 1;
};

// Moves the batch's tensors (inputs and targets) to `device`; nothing to do for the CPU.
void move_to(Batch& batch, const c10::Device& device);

// Bucket length for a longest sequence of `longest` tokens.
int64_t bucket_length(int64_t longest, int64_t bucket_multiple, int64_t max_length);
// `data.bucket_multiple` as run: itself when positive; 0 (automatic) is 8 on CUDA and 1 (the longest) elsewhere.
int64_t padding_multiple(int64_t bucket_multiple, bool cuda);

// Rows `indices` of `features`, padded to the bucket length; targets per `head` when `with_targets`.
Batch collate(const std::vector<Feature>& features, const std::vector<int64_t>& indices, HeadKind head,
              int64_t bucket_multiple, int64_t max_length, bool with_targets);

// The order of the features in epoch `epoch` for `seed`: a permutation from a generator seeded by (seed, epoch),
// the same on every platform and after a resume.
std::vector<int64_t> epoch_order(int64_t num_features, int64_t seed, int64_t epoch);

// The `rank`-th of `world_size` contiguous slices of `indices` (sizes differ by at most one; some may be empty).
std::vector<int64_t> rank_slice(const std::vector<int64_t>& indices, int rank, int world_size);

// How many terms the head's mean loss averages over rows `indices`: labelled tokens (label != -100) for token
// classification, rows otherwise.
int64_t loss_terms(const std::vector<Feature>& features, const std::vector<int64_t>& indices, HeadKind head);

// This rank's share of the micro-batch `indices`: collate() of its rank_slice, with loss_weight = its loss terms /
// the micro-batch's, so that the weighted losses of all ranks sum to the mean loss over the whole micro-batch.
Batch collate_share(const std::vector<Feature>& features, const std::vector<int64_t>& indices, HeadKind head,
                    int64_t bucket_multiple, int64_t max_length, int rank, int world_size);

// Consecutive index groups of at most `batch_size` (the last may be smaller).
std::vector<std::vector<int64_t>> chunk(const std::vector<int64_t>& order, int64_t batch_size);

}  // namespace electra
