#include "train/step.h"

#include <ATen/ATen.h>

#include <cmath>

#include "train/autocast.h"

namespace electra {

TrainStep::TrainStep(ElectraModel& model, AdamW& optimizer, double max_grad_norm, bool bf16)
    : model_(model), optimizer_(optimizer), max_grad_norm_(max_grad_norm), bf16_(bf16) {}

StepResult TrainStep::run(const std::vector<Batch>& micro_batches, double lr) {
  StepResult result;
  const auto n = static_cast<double>(micro_batches.size());
  for (const Batch& batch : micro_batches) {
    at::Tensor loss;
    {
      AutocastGuard autocast(bf16_);
      loss = model_.loss(model_.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids), batch.targets);
    }
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      result.finite = false;
      result.bad_loss = value;
      return result;
    }
    result.loss += value / n;
    (loss / n).backward();
  }
  result.grad_norm = clip_grad_norm(optimizer_.slots(), max_grad_norm_);
  optimizer_.step(lr);
  optimizer_.zero_grad();
  return result;
}

}  // namespace electra
