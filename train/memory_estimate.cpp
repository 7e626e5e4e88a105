#include "train/memory_estimate.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "model/runtime.h"

namespace electra {
namespace {

// The coefficients below count fp32 tensors of one encoder layer as LibTorch's eager autograd keeps them (N = batch
// x length tokens; model/encoder.cpp's ops), then were calibrated against the peak RSS that bench/memory_estimate.sh
// measures (docs/memory.md holds its table).
//   saved for backward, per layer: q, k, v, the attention context, two LayerNorm inputs and outputs (8 N H); the
//   intermediate dense output and its activation (2 N I); softmax's output (B A T^2), and with dropout its masks
//   and outputs (one N H per hidden dropout, two B A T^2 for attention dropout);
//   embeddings: the three lookups, their sum, LayerNorm and the projection (4 N E + N H);
//   the backward's transients: the gradients of one layer's largest tensors (2 B A T^2 + 2 N I + 4 N H).
constexpr double kSavedHidden = 8, kSavedIntermediate = 2, kSavedScores = 1;
constexpr double kHiddenDropout = 2, kAttentionDropout = 2;
constexpr double kTransientScores = 2, kTransientIntermediate = 2, kTransientHidden = 4;
// Without gradients the most alive at once: hidden, q, k, v, context (5 N H), scores and probabilities (2 B A T^2),
// the intermediate output and activation (2 N I).
constexpr double kEvalHidden = 5, kEvalScores = 2, kEvalIntermediate = 2;
// Measured peaks run 25 % above the count above (the allocator's rounding and caching, the small tensors the count
// leaves out): every activation term is scaled by it.
constexpr double kActivationOverhead = 1.25;
// What a step adds per parameter besides its weight, gradient and AdamW state: the per-tensor update's
// temporaries, gradient clipping's and the loaded checkpoint's copy (two fp32 copies).
constexpr double kStepCopies = 2;
// Saving a model (best/, the exports) or a training state, measured on the base shape: about six fp32 copies of the
// weights at once (the state dict, contiguous copies, the file's bytes), while the heap still holds about 80 % of
// what the last step's activations used (glibc keeps freed blocks for reuse).
constexpr double kSaveCopies = 6, kRetainedActivations = 0.8;
// What the process grows by from the preflight to the first step (LibTorch's kernels and thread buffers).
constexpr double kFirstStepGrowth = 40e6;
// The resident size LibTorch reaches before the first step of a run on the CPU (thread pools, kernels, allocator
// arenas), measured on the 1.13 build with two threads: what `--dump-config` and `inspect` assume.
constexpr double kTypicalBaseline = 200e6;

std::string shape_keys(const ElectraConfig& c, const std::string& prefix) {
  return fmt::format("{0}hidden_size={1}, {0}num_hidden_layers={2}, {0}intermediate_size={3}, {0}vocab_size={4}",
                     prefix, c.hidden_size, c.num_hidden_layers, c.intermediate_size, c.vocab_size);
}

}  // namespace

AttentionKernel attention_kernel(const ElectraConfig& c, bool training, bool cuda) {
  if (!fused_kernels_built()) return AttentionKernel::eager;
  if (!cuda && training && c.attention_probs_dropout_prob > 0) return AttentionKernel::eager;
  return AttentionKernel::fused;
}

double encoder_activation_bytes(const ElectraConfig& c, double batch, double length, bool training, bool bf16,
                                AttentionKernel kernel) {
  const double N = batch * length, H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size),
               E = static_cast<double>(c.embedding_size), L = static_cast<double>(c.num_hidden_layers),
               A = static_cast<double>(c.num_attention_heads), scores = batch * A * length * length;
  // The scores' share of each count below: B A T^2 floats each when eager; fused, one log-sum-exp per query and
  // head kept for backward, nothing of T^2 size.
  const bool eager = kernel == AttentionKernel::eager;
  const double kept_scores =
      eager ? (kSavedScores + (c.attention_probs_dropout_prob > 0 ? kAttentionDropout : 0)) * scores : N * A;
  double elements = 0;
  if (training) {
    double hidden = kSavedHidden + (c.hidden_dropout_prob > 0 ? kHiddenDropout : 0);
    double per_layer = hidden * N * H + kSavedIntermediate * N * I + kept_scores;
    elements = L * per_layer + 4 * N * E + N * H + (eager ? kTransientScores * scores : 0) +
               kTransientIntermediate * N * I + kTransientHidden * N * H;
  } else {
    elements = kEvalHidden * N * H + (eager ? kEvalScores * scores : 0) + kEvalIntermediate * N * I + 2 * N * E;
  }
  // Under bf16 autocast the matrix products' outputs are bf16; softmax and LayerNorm stay fp32: about 3/4 of the
  // fp32 bytes.
  return kActivationOverhead * elements * (bf16 ? 3.0 : 4.0);
}

double fine_tune_parameter_count(const ElectraConfig& c) {
  if (c.architecture != Architecture::model) return c.parameter_count();
  ElectraConfig with_head = c;
  with_head.architecture = Architecture::sequence_classification;
  if (with_head.id2label.empty()) with_head.id2label = default_labels(2);
  return with_head.parameter_count();
}

double MemoryEstimate::added() const {
  const double activations = std::max(train_activations, eval_activations);
  return runtime + model_state() + std::max(step_copies + activations, saving + kRetainedActivations * activations);
}

std::string MemoryEstimate::describe() const {
  const std::string activations =
      eval_activations > 0 ? fmt::format("the larger of train activations {} and eval activations {}",
                                         format_bytes(train_activations), format_bytes(eval_activations))
                           : fmt::format("train activations {}", format_bytes(train_activations));
  return fmt::format("peak {} = baseline {} + LibTorch's first step {} + parameters {} + gradients {} + AdamW state "
                     "{}{} + the larger of a step (copies {} + {}) and a save ({} + 80 % of the activations)",
                     format_bytes(peak()), format_bytes(baseline), format_bytes(runtime), format_bytes(parameters),
                     format_bytes(gradients), format_bytes(optimizer_state),
                     autocast_copies > 0 ? " + bf16 weight copies " + format_bytes(autocast_copies) : "",
                     format_bytes(step_copies), activations, format_bytes(saving));
}

std::string MemoryEstimate::largest_term_keys() const {
  const double model = model_state() + saving;
  if (model >= train_activations && model >= eval_activations) return "the model: " + model_keys;
  // Activations grow with the model's shape too.
  return fmt::format("{}: {}; the model: {}", train_activations >= eval_activations ? "train activations" : "eval "
                     "activations", train_activations >= eval_activations ? train_keys : eval_keys, model_keys);
}

// The terms that scale with the parameter count (fp32 weights, gradients, AdamW state, a step's and a save's
// copies, bf16 copies), plus the baseline and LibTorch's first-step growth: the same for fine-tuning and pre-training.
static void add_parameter_terms(MemoryEstimate& e, double params, bool bf16, double baseline) {
  e.baseline = baseline;
  e.parameters = 4 * params;
  e.gradients = 4 * params;
  e.optimizer_state = 8 * params;
  e.step_copies = 4 * kStepCopies * params;
  e.saving = 4 * kSaveCopies * params;
  e.runtime = kFirstStepGrowth;
  e.autocast_copies = bf16 ? 2 * params : 0;
}

MemoryEstimate fine_tune_memory(const ElectraConfig& c, double micro_batch, double eval_batch, double length, bool cuda,
                                bool bf16, double baseline) {
  MemoryEstimate e;
  const double params = fine_tune_parameter_count(c);
  add_parameter_terms(e, params, bf16, baseline);
  e.train_activations = encoder_activation_bytes(c, micro_batch, length, true, bf16, attention_kernel(c, true, cuda));
  e.eval_activations = encoder_activation_bytes(c, eval_batch, length, false, bf16, attention_kernel(c, false, cuda));
  e.model_keys = shape_keys(c, "");
  return e;
}

MemoryEstimate pretrain_memory(const ElectraConfig& disc, const ElectraConfig& gen, double micro_batch, double length,
                               double predictions, bool cuda, bool bf16, double baseline) {
  MemoryEstimate e;
  ElectraConfig disc_encoder = disc, gen_encoder = gen;
  disc_encoder.architecture = gen_encoder.architecture = Architecture::model;
  // The generator shares the word, position and type embeddings (and their LayerNorm) with the discriminator.
  const double shared = static_cast<double>(disc.vocab_size + disc.max_position_embeddings + disc.type_vocab_size) *
                            static_cast<double>(disc.embedding_size) +
                        2.0 * static_cast<double>(disc.embedding_size);
  const double H = static_cast<double>(disc.hidden_size), Hg = static_cast<double>(gen.hidden_size),
               E = static_cast<double>(gen.embedding_size), V = static_cast<double>(disc.vocab_size);
  const double params = disc_encoder.parameter_count() + (H * H + 2 * H + H + 1) +  // discriminator head
                        gen_encoder.parameter_count() - shared + (Hg * E + E + 2 * E + V);  // generator head
  add_parameter_terms(e, params, bf16, baseline);
  // The generator's vocabulary logits at the masked positions: logits, log-softmax and their gradients (fp32).
  const double logits = 4.0 * 4 * micro_batch * predictions * V;
  e.train_activations =
      encoder_activation_bytes(disc, micro_batch, length, true, bf16, attention_kernel(disc, true, cuda)) +
      encoder_activation_bytes(gen, micro_batch, length, true, bf16, attention_kernel(gen, true, cuda)) + logits;
  e.model_keys = shape_keys(disc, "model.");
  return e;
}

int64_t configured_micro_batch(const TrainOptions& train, int world) {
  const int64_t micro = train.batch_size / train.gradient_accumulation_steps;
  return (micro + world - 1) / world;
}

MemoryEstimate fine_tune_estimate(const ElectraConfig& config, const ExperimentOptions& options, int64_t micro_batch,
                                  const DataShape* data, double baseline) {
  const TrainOptions& t = options.train;
  const double max_length = static_cast<double>(options.data.max_seq_length);
  double train_batch = static_cast<double>(micro_batch), eval_batch = static_cast<double>(t.eval_batch_size);
  double length = max_length, eval_length = max_length;
  if (data) {
    if (data->train_features > 0) train_batch = std::min(train_batch, static_cast<double>(data->train_features));
    if (data->eval_features > 0) eval_batch = std::min(eval_batch, static_cast<double>(data->eval_features));
    if (data->train_length > 0) length = std::min(length, static_cast<double>(data->train_length));
    if (data->eval_length > 0) eval_length = std::min(eval_length, static_cast<double>(data->eval_length));
  }
  // "auto" is counted as the CPU: fp32, and on LibTorch 2 the attention kernel with the larger count.
  const bool cuda = options.device == "cuda", bf16 = t.bf16 && cuda;
  MemoryEstimate e = fine_tune_memory(config, train_batch, eval_batch, length, cuda, bf16, baseline);
  e.eval_activations =
      encoder_activation_bytes(config, eval_batch, eval_length, false, bf16, attention_kernel(config, false, cuda));
  e.train_keys = t.accumulation_auto
                     ? fmt::format("train.batch_size={}, train.gradient_accumulation_steps=auto (micro-batch {}), "
                                   "data.max_seq_length={}",
                                   t.batch_size, micro_batch, options.data.max_seq_length)
                     : fmt::format("train.batch_size={}, train.gradient_accumulation_steps={}, data.max_seq_length={}",
                                   t.batch_size, t.gradient_accumulation_steps, options.data.max_seq_length);
  e.eval_keys = fmt::format("train.eval_batch_size={}, data.max_seq_length={}", t.eval_batch_size,
                            options.data.max_seq_length);
  e.model_keys += " of the model's config.json";
  return e;
}

std::string fine_tune_memory_comment(const ExperimentOptions& options) {
  const std::filesystem::path config_file = std::filesystem::path(options.model) / "config.json";
  if (!std::filesystem::is_regular_file(config_file))
    return "# memory: estimated when the run starts (the model is not a local folder yet; docs/memory.md)\n";
  ElectraConfig config = ElectraConfig::from_file(config_file);
  ExperimentOptions o = options;
  o.data.max_seq_length = std::min(o.data.max_seq_length, config.max_position_embeddings);
  const int64_t micro = o.train.accumulation_auto ? 1 : configured_micro_batch(o.train, 1);
  const MemoryEstimate e = fine_tune_estimate(config, o, micro, nullptr, typical_baseline_bytes());
  const MemoryHeadroom room = memory_headroom();
  return fmt::format("# memory: {}\n#   before the data is read: every batch full and data.max_seq_length long{}; "
                     "the CPU may add {} ({})\n",
                     e.describe(),
                     o.train.accumulation_auto
                         ? "; gradient accumulation auto: micro-batch 1 shown, the run picks the largest that fits"
                         : "",
                     room.bytes < 0 ? "any amount" : format_bytes(static_cast<double>(room.bytes)),
                     room.bytes < 0 ? "no limit found" : room.detail);
}

double typical_baseline_bytes() {
  return std::max(kTypicalBaseline, static_cast<double>(process_status_bytes("VmRSS")));
}

MemoryHeadroom run_headroom(const std::string& device) {
  if (device != "cuda") return memory_headroom();
  MemoryHeadroom room;
  const int64_t free = cuda_free_memory_bytes();
  if (free < 0) return room;
  room.bytes = free;
  room.source = "cudaMemGetInfo";
  room.detail = fmt::format("cudaMemGetInfo: {} free on the GPU", format_bytes(static_cast<double>(free)));
  return room;
}

void check_memory(const MemoryEstimate& estimate, const MemoryHeadroom& room, const std::string& what) {
  if (room.bytes < 0 || estimate.added() <= static_cast<double>(room.bytes)) return;
  throw std::runtime_error(fmt::format(
      "memory: {} needs about {} more than its {} baseline at its peak (largest term, {}), more than the {} "
      "this process may use ({}); lower those values, or run with --force to start anyway (docs/memory.md)",
      what, format_bytes(estimate.added()), format_bytes(estimate.baseline), estimate.largest_term_keys(),
      format_bytes(static_cast<double>(room.bytes)), room.detail));
}

}  // namespace electra
