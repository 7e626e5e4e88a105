#include "train/step.h"

#include <ATen/ATen.h>

#include <cmath>

#include "dist/communicator.h"
#include "train/autocast.h"

namespace electra {

TrainStep::TrainStep(ElectraModel& model, AdamW& optimizer, double max_grad_norm, bool bf16, Communicator* comm)
    : model_(model), optimizer_(optimizer), max_grad_norm_(max_grad_norm), bf16_(bf16), comm_(comm) {}

StepResult TrainStep::run(const std::vector<Batch>& micro_batches, double lr) {
  StepResult result;
  const auto n = static_cast<double>(micro_batches.size());
  const bool distributed = comm_ != nullptr && comm_->distributed();
  for (const Batch& batch : micro_batches) {
    if (batch.loss_weight == 0) continue;  // no loss term of this micro-batch on this rank
    at::Tensor loss;
    {
      AutocastGuard autocast(bf16_);
      loss = model_.loss(model_.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids), batch.targets);
    }
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      result.finite = false;
      result.bad_loss = value;
      if (!distributed) return result;
      break;  // the other ranks learn it from the all-reduce below
    }
    // loss_weight is 1 on a single process: the same operations, bit for bit, as without it.
    result.loss += value * batch.loss_weight / n;
    ((loss * batch.loss_weight) / n).backward();
  }
  if (distributed) {
    // One all-reduce: the gradients, then which parameters have one anywhere, the loss and a non-finite flag.
    const auto& slots = optimizer_.slots();
    const auto k = static_cast<int64_t>(slots.size());
    at::Tensor stats = at::zeros({k + 2}, at::kDouble);
    auto s = stats.accessor<double, 1>();
    std::vector<at::Tensor> tensors;
    for (int64_t i = 0; i < k; ++i) {
      at::Tensor& grad = slots[i].param.mutable_grad();
      if (grad.defined()) {
        s[i] = 1;
      } else {
        grad = at::zeros_like(slots[i].param);
      }
      tensors.push_back(grad);
    }
    s[k] = result.finite ? result.loss : 0.0;
    s[k + 1] = result.finite ? 0.0 : 1.0;
    tensors.push_back(stats);
    comm_->all_reduce_sum(tensors, "the gradient all-reduce");
    if (s[k + 1] > 0) {
      if (result.finite) result.bad_loss = std::nan("");
      result.finite = false;
      optimizer_.zero_grad();
      return result;
    }
    result.loss = s[k];
    for (int64_t i = 0; i < k; ++i) {
      if (s[i] == 0) slots[i].param.mutable_grad() = at::Tensor();  // as on one process: no gradient, no update
    }
  }
  result.grad_norm = clip_grad_norm(optimizer_.slots(), max_grad_norm_);
  optimizer_.step(lr);
  optimizer_.zero_grad();
  return result;
}

}  // namespace electra
