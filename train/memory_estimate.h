// The memory preflight of a run (docs/memory.md): the peak a fine-tuning or pre-training run will reach, estimated
// from config numbers alone (no tensor is made), compared with what the process may use before the first step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/memory_limit.h"
#include "model/config.h"
#include "train/options.h"

namespace electra {

// The terms of an estimate, in bytes. The peak is the baseline, LibTorch's growth and the model state, plus the
// larger of a step (its copies and the larger of the train and eval activations: evaluation runs between steps, with
// the gradients and AdamW state alive) and a save (its copies and what the heap keeps of the activations).
struct MemoryEstimate {
  double baseline = 0;         // the process before training: LibTorch, tokenizer, data (measured RSS in a run)
  double parameters = 0;       // fp32 weights
  double gradients = 0;        // fp32, one per parameter
  double optimizer_state = 0;  // AdamW: exp_avg and exp_avg_sq
  double step_copies = 0;      // fp32 temporaries of the update and clipping, the loaded checkpoint's copy
  double runtime = 0;          // what LibTorch adds from the preflight to the first step
  double saving = 0;           // saving a model or training state: fp32 copies of the weights at once
  double autocast_copies = 0;  // bf16 copies of the weights autocast keeps for a step
  double train_activations = 0;  // one micro-batch's forward, kept for its backward, and the backward's transients
  double eval_activations = 0;   // one eval batch's forward without gradients
  // The keys behind each term, "key=value" pairs, for a refusal that names them.
  std::string model_keys, train_keys, eval_keys;

  double model_state() const { return parameters + gradients + optimizer_state + autocast_copies; }
  // What the run adds to the baseline; on CUDA, the device memory it needs.
  double added() const;
  double peak() const { return baseline + added(); }
  // One line: "peak 1.23 GB = baseline 0.31 GB + parameters ... + train activations (...)".
  std::string describe() const;
  // The largest term and its keys ("train activations: train.batch_size=1000000, ...; the model: hidden_size=...").
  std::string largest_term_keys() const;
};

// How a pass computes attention. `eager`: softmax of the B x A x T x T scores, kept for backward (LibTorch 1.x, and
// LibTorch 2 on the CPU when training with attention dropout, which its flash kernel lacks). `fused`:
// scaled_dot_product_attention's flash or memory-efficient kernel, which keeps only a log-sum-exp per query.
enum class AttentionKernel { eager, fused };

// The kernel this build runs for `c` (training or not, on CUDA or the CPU): model/encoder.cpp's choice, then
// PyTorch's (flash on the CPU has no dropout; CUDA's memory-efficient kernel has).
AttentionKernel attention_kernel(const ElectraConfig& c, bool training, bool cuda);

// Bytes one forward pass of the encoder `c` keeps over `batch` sequences of `length` tokens: for backward when
// `training` (dropout masks included when its probabilities are > 0), else the most alive at once. `bf16`:
// autocast (activations in bf16 but for softmax, LayerNorm and the losses). Includes the backward's transients.
double encoder_activation_bytes(const ElectraConfig& c, double batch, double length, bool training, bool bf16,
                                AttentionKernel kernel);

// Parameters of `c` with the largest head a fine-tuning task puts on it, when its config.json names none.
double fine_tune_parameter_count(const ElectraConfig& c);

// The estimate of a fine-tuning run of `c`: micro-batch `micro_batch` (train.batch_size / accumulation, per rank)
// and eval batch `eval_batch` of `length` tokens. `train_keys` / `eval_keys` / `model_keys` name the keys behind
// each term for the refusal.
// `cuda`: on a GPU (attention_kernel()); `bf16`: autocast there.
MemoryEstimate fine_tune_memory(const ElectraConfig& c, double micro_batch, double eval_batch, double length, bool cuda,
                                bool bf16, double baseline);

// The estimate of a pre-training step: the generator `gen` and discriminator `disc` (sharing the embeddings) on a
// micro-batch of `micro_batch` sequences of `length` tokens with `predictions` masked positions each (the
// generator's vocabulary logits are computed there alone).
MemoryEstimate pretrain_memory(const ElectraConfig& disc, const ElectraConfig& gen, double micro_batch, double length,
                               double predictions, bool cuda, bool bf16, double baseline);

// What the estimate of a fine-tuning run takes from its tokenized data; 0: unknown (the configured bound is used).
struct DataShape {
  int64_t train_features = 0, eval_features = 0;  // batches are capped at these
  int64_t train_length = 0, eval_length = 0;      // the longest feature (batches pad to it), capped at max_seq_length
};

// The estimate of `options` on a model of `config` with `micro_batch` examples per micro-batch on this rank; without
// `data` (before it is read: --dump-config), batches as configured and every length data.max_seq_length.
MemoryEstimate fine_tune_estimate(const ElectraConfig& config, const ExperimentOptions& options, int64_t micro_batch,
                                  const DataShape* data, double baseline);

// The micro-batch a rank of `world` ranks runs: train.batch_size / accumulation / world, rounded up.
int64_t configured_micro_batch(const TrainOptions& train, int world);

// The lines `finetune --dump-config` appends (YAML comments): the estimate for the model folder `options.model`
// before the data is read, or why there is none (a hub id not yet downloaded).
std::string fine_tune_memory_comment(const ExperimentOptions& options);

// The baseline before a run has started (`--dump-config`, `inspect`): LibTorch's resident footprint once its thread
// pools and kernels are up, as measured (docs/memory.md), or this process's RSS when larger.
double typical_baseline_bytes();

// What a run on `device` ("cpu", "cuda") may add: memory_headroom() on the CPU; on CUDA the device's free memory
// (cudaMemGetInfo), source "cudaMemGetInfo".
MemoryHeadroom run_headroom(const std::string& device);

// Throws std::runtime_error when `estimate.added()` exceeds `room`: one line naming the largest term's keys, the
// estimate, the memory available and where that limit comes from, and --force. `what` names the run
// ("fine-tuning", "pre-training").
void check_memory(const MemoryEstimate& estimate, const MemoryHeadroom& room, const std::string& what);

}  // namespace electra
