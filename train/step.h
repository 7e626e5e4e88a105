// One optimizer step: the loss of each micro-batch (a callback: fine-tuning's model loss, pre-training's generator +
// discriminator objective; bf16 autocast when asked), backward, the gradients summed over the ranks, global-norm
// clipping, AdamW at the given learning rate, gradients zeroed. The loop around it (order, evaluation, checkpoints)
// is the trainer's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "architectures/electra_model.h"
#include "train/batcher.h"
#include "train/optimizer.h"

namespace electra {

class Communicator;
struct GradientBuckets;

struct StepResult {
  double loss = 0;          // the step's loss, StepLoss's sum (fine-tuning: the mean over the micro-batches)
  double grad_norm = 0;     // global L2 norm before clipping
  bool finite = true;       // false: a micro-batch's loss was not finite and no update was made
  double bad_loss = 0;      // that loss
  int64_t buckets_started_in_backward = 0;  // several ranks: gradient buckets whose sum began in the backward pass
  int64_t buckets = 0;                      // several ranks: gradient buckets in all
  bool abandoned = false;   // StepLoss::abandon said so between micro-batches: no update, gradients and RNG reset
};

// How one optimizer step's loss is made of its micro-batches' on this rank: micro-batch m adds
// loss(m) * weights[m] / divisor to the step's loss and gradient (and the ranks' terms add up). Weight 0: no term of
// micro-batch m on this rank, loss(m) is not called.
struct StepLoss {
  std::vector<double> weights;  // one per micro-batch
  double divisor = 1;
  // Micro-batch m's loss: a scalar with gradient, computed under the step's autocast.
  std::function<at::Tensor(size_t m)> loss;
  // One process only (ignored with several ranks, which agree on a stop at step boundaries): asked before every
  // micro-batch after the first; true abandons the step as if it had not begun (a stop signal during gradient
  // accumulation): the gradients are zeroed and the random generators (dropout's) set back to their state at the
  // step's start, so that the state saved next resumes bit-exactly.
  std::function<bool()> abandon;
};

class TrainStep {
 public:
  // `max_grad_norm` <= 0: no clipping. `bf16`: CUDA autocast for the forward passes. With several ranks in `comm`
  // (null: this process alone), the gradients (and the loss) are summed over them before clipping, so that every
  // rank clips by the global norm and makes the same AdamW update.
  // The gradient sums start during the last backward pass, a bucket (flat buffer of at most 25 MB) as soon as all
  // of its gradients are accumulated (hooks on the parameters' gradient accumulators), in the same order on every
  // rank.
  TrainStep(AdamW& optimizer, double max_grad_norm, bool bf16, Communicator* comm = nullptr);
  // Fine-tuning's step of `model`: run(micro_batches, lr) below.
  TrainStep(ElectraModel& model, AdamW& optimizer, double max_grad_norm, bool bf16, Communicator* comm = nullptr);
  ~TrainStep();
  TrainStep(const TrainStep&) = delete;
  TrainStep& operator=(const TrainStep&) = delete;
  // One optimizer step of the micro-batches `loss` describes. A non-finite loss on any rank makes no update on every
  // rank. `on_gradients`, when given, is called once the gradients are final (summed over the ranks), before
  // clipping and the update.
  StepResult run(const StepLoss& loss, double lr, const std::function<void()>& on_gradients = {});
  // Fine-tuning: the micro-batches (already on the model's device) of one optimizer step; the model's losses are
  // averaged. On several ranks each holds its share of every micro-batch, its loss weighted by Batch::loss_weight,
  // so that the sum over ranks is the loss (and gradient) one process computes over the whole batch.
  StepResult run(const std::vector<Batch>& micro_batches, double lr, const std::function<bool()>& abandon = {});

 private:
  ElectraModel* model_ = nullptr;  // fine-tuning's
  AdamW& optimizer_;
  double max_grad_norm_;
  bool bf16_;
  Communicator* comm_;
  std::unique_ptr<GradientBuckets> buckets_;  // several ranks only
  struct Hook;
  std::vector<std::unique_ptr<Hook>> hooks_;  // on the gradient accumulators, removed with the step
};

}  // namespace electra
