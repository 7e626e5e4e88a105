// ELECTRA's replaced-token detection objective (google-research/electra pretrain_helpers.mask and
// run_pretraining.py): dynamic masking, the generator's MLM loss, sampled replacements, the discriminator's
// per-token loss, and the counts the metrics need. Every random draw comes from generators seeded by the caller.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <vector>

#include "architectures/pretraining_pair.h"
#include "corpus/pretraining_data.h"

namespace electra {

// A batch padded to its longest example: ids (pad_id after the end), attention mask 1/0, token types 1 from
// first_segment_length to the end of each example. All [B, T] long on the CPU.
struct PretrainBatch {
  at::Tensor input_ids, attention_mask, token_type_ids;
};
PretrainBatch collate(const std::vector<PretrainingExample>& examples, int64_t pad_id);

struct MaskingOptions {
  double mask_prob = 0.15;
  int64_t max_predictions = 19;       // per sequence
  double mask_token_prob = 0.85;      // chosen tokens that become [MASK]; the others keep their id
  int64_t mask_id = 103;
  std::vector<int64_t> special_ids;  // never chosen ([CLS], [SEP], [MASK], [PAD], ...)
};

struct MaskedInput {
  at::Tensor input_ids;  // [B, T] long: [MASK] at mask_token_prob of the chosen positions
  at::Tensor positions;  // [B, T] bool: the chosen positions (the generator predicts them)
};

// Per sequence, as pretrain_helpers.mask: n = non-padding tokens ([CLS]/[SEP] counted), k = min(max_predictions,
// max(1, round_half_even(n * mask_prob))) positions chosen uniformly among the candidates (non-padding, not special).
// Unlike google's tf.random.categorical (which may draw a position twice and then predicts it twice), the k
// positions are drawn without replacement, and k is capped at the number of candidates.
// `input_ids` and `attention_mask` on the CPU; `generator` a CPU generator.
MaskedInput mask_tokens(const at::Tensor& input_ids, const at::Tensor& attention_mask, const MaskingOptions& options,
                        at::Generator& generator);

// mask_tokens for each example on its own: row i over its own (unpadded) length, with a CPU generator seeded by
// row_seeds[i], so that an example is masked the same whatever batch (and rank) it lands in.
MaskedInput mask_examples(const at::Tensor& input_ids, const at::Tensor& attention_mask, const MaskingOptions& options,
                          const std::vector<uint64_t>& row_seeds);

// 64-bit seed of one draw site from the run's seed and where the loop stands (splitmix64 of the parts).
uint64_t draw_seed(uint64_t seed, int64_t step, int64_t rank, int64_t micro_batch, int64_t site);
// A CPU generator seeded with `seed`.
at::Generator cpu_generator(uint64_t seed);
// A generator of `device` seeded with `seed` (CPU: a new one; CUDA: the device's default one, reseeded).
at::Generator device_generator(const c10::Device& device, uint64_t seed);

// How the replacements are drawn from the generator (google-research/electra's `temp` and `disallow_correct`):
// softmax(logits / temperature), the original token's probability set to 0 when disallow_correct (then every chosen
// position is replaced).
struct SamplingOptions {
  double temperature = 1.0;
  bool disallow_correct = false;
};

// Replacements for the chosen positions: `logits` [M, V] and `targets` [M] (the original tokens) in row-major order,
// `counts` [B] (CPU) the chosen positions of each example; example i's draws come from a generator of the logits'
// device seeded by sample_seeds[i].
at::Tensor sample_replacements(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& counts,
                               const std::vector<uint64_t>& sample_seeds, const SamplingOptions& sampling);

struct ObjectiveResult {
  at::Tensor loss;      // mlm + disc_weight * rtd (scalar, with gradient)
  at::Tensor mlm_loss, rtd_loss;
  at::Tensor discriminator_input;  // [B, T]: sampled tokens at the chosen positions
  at::Tensor labels;               // [B, T] float: 1 where discriminator_input differs from the original
  // Counts (CPU doubles): chosen positions, generator argmax right, non-padding tokens, discriminator right,
  // predicted "replaced", actually replaced, both.
  double masked = 0, generator_correct = 0, tokens = 0, discriminator_correct = 0, predicted_replaced = 0,
         replaced = 0, true_replaced = 0;
};

// One forward of both models on a batch of original ids (all on the model's device). The replacements of example i
// are drawn from the generator's softmax as `sampling` says (no gradient) with a generator of the device seeded by sample_seeds[i].
// As google's losses, mlm = summed CE / mlm_denominator and rtd = summed BCE over the non-padding tokens /
// rtd_denominator; a denominator <= 0 means this batch's own count (chosen positions, non-padding tokens). Passing
// the counts of the whole global batch makes the losses of its parts (micro-batches, ranks) add up to its loss.
ObjectiveResult electra_objective(ElectraPretrainingModelImpl& model, const at::Tensor& input_ids,
                                  const at::Tensor& attention_mask, const at::Tensor& token_type_ids,
                                  const MaskedInput& masked, double disc_weight,
                                  const std::vector<uint64_t>& sample_seeds, double mlm_denominator = 0,
                                  double rtd_denominator = 0, const SamplingOptions& sampling = {});

}  // namespace electra
