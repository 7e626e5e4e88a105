#include "train/batcher.h"

#include <fmt/format.h>
#include <ATen/ATen.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace electra {

void move_to(Batch& batch, const c10::Device& device) {
  if (device.is_cpu()) return;
  for (at::Tensor* t : {&batch.input_ids, &batch.attention_mask, &batch.token_type_ids, &batch.targets.labels,
                        &batch.targets.start_positions, &batch.targets.end_positions}) {
    if (t->defined()) *t = t->to(device);
  }
}

int64_t padding_multiple(int64_t bucket_multiple, bool cuda) { return bucket_multiple > 0 ? bucket_multiple : cuda ? 8 : 1; }

int64_t bucket_length(int64_t longest, int64_t bucket_multiple, int64_t max_length) {
  const int64_t rounded = (longest + bucket_multiple - 1) / bucket_multiple * bucket_multiple;
  return std::max<int64_t>(1, std::min(rounded, std::max(max_length, longest)));
}

Batch collate(const std::vector<Feature>& features, const std::vector<int64_t>& indices, HeadKind head,
              int64_t bucket_multiple, int64_t max_length, bool with_targets) {
  int64_t longest = 1;
  for (const int64_t i : indices) longest = std::max<int64_t>(longest, features[i].input_ids.size());
  const int64_t rows = static_cast<int64_t>(indices.size());
  const int64_t length = bucket_length(longest, bucket_multiple, max_length);

  Batch batch;
  batch.feature_indices = indices;
  auto ids = at::zeros({rows, length}, at::kLong);
  auto mask = at::zeros({rows, length}, at::kLong);
  auto types = at::zeros({rows, length}, at::kLong);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  auto types_a = types.accessor<int64_t, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    const Feature& f = features[indices[r]];
    for (size_t t = 0; t < f.input_ids.size(); ++t) {
      ids_a[r][t] = f.input_ids[t];
      mask_a[r][t] = 1;
      types_a[r][t] = t < f.token_type_ids.size() ? f.token_type_ids[t] : 0;
    }
    batch.real_tokens += static_cast<int64_t>(f.input_ids.size());
  }
  batch.input_ids = ids;
  batch.attention_mask = mask;
  batch.token_type_ids = types;
  if (!with_targets) return batch;

  switch (head) {
    case HeadKind::sequence_classification: {
      auto labels = at::empty({rows}, at::kLong);
      for (int64_t r = 0; r < rows; ++r) labels[r] = features[indices[r]].label;
      batch.targets.labels = labels;
      break;
    }
    case HeadKind::regression: {
      auto labels = at::empty({rows}, at::kFloat);
      for (int64_t r = 0; r < rows; ++r) labels[r] = features[indices[r]].score;
      batch.targets.labels = labels;
      break;
    }
    case HeadKind::token_classification: {
      auto labels = at::full({rows, length}, -100, at::kLong);
      auto a = labels.accessor<int64_t, 2>();
      for (int64_t r = 0; r < rows; ++r) {
        const auto& tl = features[indices[r]].token_labels;
        for (size_t t = 0; t < tl.size() && static_cast<int64_t>(t) < length; ++t) a[r][t] = tl[t];
      }
      batch.targets.labels = labels;
      break;
    }
    case HeadKind::span_extraction: {
      auto start = at::empty({rows}, at::kLong);
      auto end = at::empty({rows}, at::kLong);
      for (int64_t r = 0; r < rows; ++r) {
        start[r] = features[indices[r]].start_position;
        end[r] = features[indices[r]].end_position;
      }
      batch.targets.start_positions = start;
      batch.targets.end_positions = end;
      break;
    }
  }
  return batch;
}

std::vector<int64_t> epoch_order(int64_t num_features, int64_t seed, int64_t epoch) {
  std::vector<int64_t> order(num_features);
  for (int64_t i = 0; i < num_features; ++i) order[i] = i;
  // mt19937_64 is specified exactly by the standard; the shuffle is written out so no library detail changes it.
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 1000003ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = num_features - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::vector<int64_t> rank_slice(const std::vector<int64_t>& indices, int rank, int world_size) {
  const auto n = static_cast<int64_t>(indices.size());
  const int64_t begin = n * rank / world_size, end = n * (rank + 1) / world_size;
  return std::vector<int64_t>(indices.begin() + begin, indices.begin() + end);
}

int64_t loss_terms(const std::vector<Feature>& features, const std::vector<int64_t>& indices, HeadKind head) {
  if (head != HeadKind::token_classification) return static_cast<int64_t>(indices.size());
  int64_t terms = 0;
  for (const int64_t i : indices) {
    for (const int64_t label : features[i].token_labels) terms += label != -100 ? 1 : 0;
  }
  return terms;
}

Batch collate_share(const std::vector<Feature>& features, const std::vector<int64_t>& indices, HeadKind head,
                    int64_t bucket_multiple, int64_t max_length, int rank, int world_size) {
  const auto mine = rank_slice(indices, rank, world_size);
  Batch batch = collate(features, mine, head, bucket_multiple, max_length, true);
  const int64_t terms = loss_terms(features, indices, head);
  const int64_t mine_terms = loss_terms(features, mine, head);
  // No term here: nothing to compute. No term anywhere: the loss is undefined, as on one process (it reports it).
  batch.loss_weight = mine_terms == 0 ? (terms == 0 && !mine.empty() ? 1.0 : 0.0)
                                      : static_cast<double>(mine_terms) / static_cast<double>(terms);
  return batch;
}

std::vector<std::vector<int64_t>> chunk(const std::vector<int64_t>& order, int64_t batch_size) {
  if (batch_size < 1) throw std::invalid_argument(fmt::format("batch size must be positive, got {}", batch_size));
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < order.size(); i += batch_size) {
    out.emplace_back(order.begin() + i, order.begin() + std::min(order.size(), i + batch_size));
  }
  return out;
}

}  // namespace electra
