#include "train/optimizer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <utility>

#include "model/torch_features.h"


namespace electra {
namespace {

bool decays(const std::string& name) {
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return !(ends_with("bias") || ends_with("LayerNorm.weight"));
}

}  // namespace

AdamW::AdamW(const ElectraModel& model, const OptimizerOptions& options) : options_(options) {
  const int64_t top = model.config().num_hidden_layers + 1;
  for (auto& [name, param] : model.named_parameters()) {
    if (!param.requires_grad()) continue;
    ParamSlot slot;
    slot.name = name;
    slot.param = param;
    const int64_t depth = model.parameter_depth(name);
    slot.lr_scale = std::pow(options.layerwise_lr_decay, static_cast<double>(top - depth));
    slot.weight_decay = decays(name) ? options.weight_decay : 0.0;
    slot.exp_avg = at::zeros_like(param, at::MemoryFormat::Preserve);
    slot.exp_avg_sq = at::zeros_like(param, at::MemoryFormat::Preserve);
    slots_.push_back(std::move(slot));
  }
}

AdamW::AdamW(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters, const OptimizerOptions& options)
    : options_(options) {
  for (const auto& [name, param] : named_parameters) {
    if (!param.requires_grad()) continue;
    ParamSlot slot;
    slot.name = name;
    slot.param = param;
    slot.weight_decay = decays(name) ? options.weight_decay : 0.0;
    slot.exp_avg = at::zeros_like(param, at::MemoryFormat::Preserve);
    slot.exp_avg_sq = at::zeros_like(param, at::MemoryFormat::Preserve);
    slots_.push_back(std::move(slot));
  }
}

void AdamW::scale_lr(const std::string& name, double scale) {
  for (auto& s : slots_) {
    if (s.name != name) continue;
    s.lr_scale *= scale;
    return;
  }
  throw std::invalid_argument(fmt::format("AdamW: no parameter named '{}'", name));
}

bool AdamW::uses_fused_kernel() const {
#if ELECTRA_FUSED_KERNELS
  if (!options_.fused || slots_.empty()) return false;
  for (const auto& s : slots_) {
    if (!s.param.is_cuda() || s.param.scalar_type() != at::kFloat) return false;
  }
  return true;
#else
  return false;
#endif
}

bool AdamW::fused_step(double lr) {
#if ELECTRA_FUSED_KERNELS
  if (!uses_fused_kernel()) return false;
  struct Group {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
  };
  std::map<std::pair<double, double>, Group> groups;
  for (auto& s : slots_) {
    const at::Tensor& grad = s.param.grad();
    if (!grad.defined()) continue;
    Group& g = groups[{s.lr_scale, s.weight_decay}];
    g.params.push_back(s.param);
    g.grads.push_back(grad);
    g.exp_avgs.push_back(s.exp_avg);
    g.exp_avg_sqs.push_back(s.exp_avg_sq);
  }
  if (!step_tensor_.defined() || step_tensor_.device() != slots_.front().param.device()) {
    step_tensor_ = at::zeros({}, slots_.front().param.options().dtype(at::kFloat));
  }
  step_tensor_.fill_(static_cast<double>(step_));  // the kernel reads the step; every tensor shares it
  for (auto& [key, g] : groups) {
    const std::vector<at::Tensor> steps(g.params.size(), step_tensor_);
    at::_fused_adamw_(g.params, g.grads, g.exp_avgs, g.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps,
                      lr * key.first, options_.adam_beta1, options_.adam_beta2, key.second, options_.adam_epsilon,
                      /*amsgrad=*/false, /*maximize=*/false);
  }
  return true;
#else
  (void)lr;
  return false;
#endif
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++step_;
  if (fused_step(lr)) return;
  const double beta1 = options_.adam_beta1, beta2 = options_.adam_beta2;
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step_));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step_)));
  for (auto& s : slots_) {
    const at::Tensor& grad = s.param.grad();
    if (!grad.defined()) continue;
    const double group_lr = lr * s.lr_scale;
    // Same order of operations as torch.optim.AdamW (single-tensor path).
    s.param.mul_(1.0 - group_lr * s.weight_decay);
    s.exp_avg.lerp_(grad, 1.0 - beta1);
    s.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
    const double step_size = group_lr / bias_correction1;
    const at::Tensor denom = (s.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(options_.adam_epsilon);
    s.param.addcdiv_(s.exp_avg, denom, -step_size);
  }
}

void AdamW::zero_grad() {
  for (auto& s : slots_) {
    if (s.param.grad().defined()) {
      s.param.mutable_grad() = at::Tensor();
    }
  }
}

TensorMap AdamW::state() const {
  TensorMap out;
  for (const auto& s : slots_) {
    out["exp_avg." + s.name] = s.exp_avg;
    out["exp_avg_sq." + s.name] = s.exp_avg_sq;
  }
  return out;
}

void AdamW::load_state(const TensorMap& state, int64_t step) {
  at::NoGradGuard no_grad;
  for (auto& s : slots_) {
    for (auto [prefix, target] : {std::pair{"exp_avg.", &s.exp_avg}, std::pair{"exp_avg_sq.", &s.exp_avg_sq}}) {
      const auto it = state.find(prefix + s.name);
      if (it == state.end()) throw std::runtime_error(fmt::format("training state lacks '{}{}'", prefix, s.name));
      if (it->second.sizes() != target->sizes()) {
        throw std::runtime_error(fmt::format("training state '{}{}' has shape {}, expected {}", prefix, s.name,
                                             fmt::join(it->second.sizes(), "x"), fmt::join(target->sizes(), "x")));
      }
      target->copy_(it->second);
    }
  }
  step_ = step;
}

double clip_grad_norm(const std::vector<ParamSlot>& slots, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& s : slots) {
    if (s.param.grad().defined()) grads.push_back(s.param.grad());
  }
  if (grads.empty()) return 0.0;
  // Multi-tensor kernels on CUDA, as torch.nn.utils.clip_grad_norm_ uses there.
  const bool multi_tensor = ELECTRA_FUSED_KERNELS && grads.front().is_cuda();
  std::vector<at::Tensor> norms;
#if ELECTRA_FUSED_KERNELS
  if (multi_tensor) norms = at::_foreach_norm(grads, 2);
#endif
  if (!multi_tensor) {
    for (const auto& g : grads) norms.push_back(g.norm(2));
  }
  const at::Tensor total = at::stack(norms).norm(2);
  if (max_norm > 0) {
    const at::Tensor coef = at::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
#if ELECTRA_FOREACH_MUL_TENSOR
    if (multi_tensor) {
      at::_foreach_mul_(grads, coef);
    } else {
      for (auto& g : grads) g.mul_(coef.to(g.device()));
    }
#else
    for (auto& g : grads) g.mul_(coef.to(g.device()));
#endif
  }
  return total.item<double>();
}

double schedule_factor(const std::string& name, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  if (name == "constant") return 1.0;
  const double remaining = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  if (name == "linear") {
    return std::max(0.0, static_cast<double>(total_steps - step) / remaining);
  }
  if (name == "cosine") {
    const double progress = static_cast<double>(step - warmup_steps) / remaining;
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
  }
  throw std::invalid_argument(fmt::format("unknown schedule '{}' (known: linear, constant, cosine)", name));
}

std::string warmup_warning(int64_t warmup_steps, int64_t total_steps) {
  if (warmup_steps < total_steps) return "";
  return fmt::format("the warm-up ({} steps) is not shorter than the run ({} steps): the learning rate never reaches "
                     "optimizer.learning_rate; lower schedule.warmup_steps or schedule.warmup_ratio",
                     warmup_steps, total_steps);
}

int64_t warmup_steps_for(const ScheduleOptions& options, int64_t total_steps) {
  if (options.warmup_steps > 0) return options.warmup_steps;
  return static_cast<int64_t>(std::ceil(options.warmup_ratio * static_cast<double>(total_steps)));
}

}  // namespace electra
