// AdamW equal to torch.optim.AdamW (decoupled weight decay, PyTorch's bias correction), parameter groups with
// layer-wise LR decay, global-norm gradient clipping, and Hugging Face's learning-rate schedules.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "architectures/electra_model.h"
#include "model/tensor_io.h"
#include "train/options.h"

namespace electra {

struct ParamSlot {
  std::string name;     // HF name
  at::Tensor param;     // the model's parameter (shared storage)
  double lr_scale = 1;  // layer-wise decay factor
  double weight_decay = 0;
  at::Tensor exp_avg, exp_avg_sq;
};

class AdamW {
 public:
  // Groups the model's parameters: no weight decay on biases and LayerNorm weights; lr scaled by
  // decay^(L + 1 - depth) with depth from ElectraModel::parameter_depth.
  AdamW(const ElectraModel& model, const OptimizerOptions& options);
  // Over named parameters (each tensor once: a shared module's parameters listed a single time), lr scale 1,
  // no weight decay on biases and LayerNorm weights (pre-training).
  AdamW(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters, const OptimizerOptions& options);

  // One update of every parameter with a gradient, at base learning rate `lr` (before the layer scale).
  // With options.fused, CUDA parameters and LibTorch 2, PyTorch's fused AdamW kernel does the update (what
  // torch.optim.AdamW(fused=True) runs); otherwise the single-tensor path, operation for operation as PyTorch's.
  void step(double lr);
  // Whether step() takes the fused kernel for these parameters.
  bool uses_fused_kernel() const;
  void zero_grad();
  // Multiplies the learning rate of the parameter named `name` by `scale` (on top of its layer scale); throws
  // std::invalid_argument when no parameter has that name.
  void scale_lr(const std::string& name, double scale);
  int64_t steps() const { return step_; }
  const std::vector<ParamSlot>& slots() const { return slots_; }

  // Moments + step as tensors named exp_avg.<name>, exp_avg_sq.<name>, for the training state file.
  TensorMap state() const;
  void load_state(const TensorMap& state, int64_t step);

 private:
  // One multi-tensor kernel per group of slots sharing lr scale and weight decay (LibTorch 2 on CUDA).
  bool fused_step(double lr);

  OptimizerOptions options_;
  std::vector<ParamSlot> slots_;
  int64_t step_ = 0;
  at::Tensor step_tensor_;  // the fused kernel's step count, on the parameters' device
};

// torch.nn.utils.clip_grad_norm_: returns the global L2 norm of the gradients before clipping and scales them by
// min(1, max_norm / (norm + 1e-6)) when max_norm > 0.
double clip_grad_norm(const std::vector<ParamSlot>& slots, double max_norm);

// lr multiplier at optimizer step `step` (0-based: the first update uses step 0), as Hugging Face's
// get_linear_schedule_with_warmup / get_constant_schedule_with_warmup / get_cosine_schedule_with_warmup.
double schedule_factor(const std::string& name, int64_t step, int64_t warmup_steps, int64_t total_steps);
int64_t warmup_steps_for(const ScheduleOptions& options, int64_t total_steps);
// The warning a run prints when its warm-up is not shorter than the run: the learning rate would never reach
// optimizer.learning_rate. "" when the warm-up ends in time.
std::string warmup_warning(int64_t warmup_steps, int64_t total_steps);

}  // namespace electra
