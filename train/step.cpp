#include "train/step.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cmath>
#include <stdexcept>
#include <utility>

#include "common/crash_point.h"
#include "dist/communicator.h"
#include "train/autocast.h"

namespace electra {

// The parameters' gradients in buckets (reverse parameter order, about the order backward produces them; one dtype
// and device each, at most 25 MB), summed over the ranks: while armed, a bucket starts once every gradient in it is
// accumulated and every bucket before it has started; finish() starts the rest (missing gradients as zeros) and
// copies the sums back.
struct GradientBuckets {
  GradientBuckets(const std::vector<ParamSlot>& slots, Communicator& comm) : slots_(slots), comm_(comm) {
    const int64_t limit = 25 << 20;
    int64_t bytes = 0;
    bucket_of_.resize(slots.size());
    for (auto i = static_cast<int64_t>(slots.size()) - 1; i >= 0; --i) {
      const at::Tensor& p = slots[i].param;
      const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
      const bool same = !buckets_.empty() && slots[buckets_.back().front()].param.scalar_type() == p.scalar_type() &&
                        slots[buckets_.back().front()].param.device() == p.device();
      if (buckets_.empty() || !same || bytes + b > limit) {
        buckets_.emplace_back();
        bytes = 0;
      }
      buckets_.back().push_back(i);
      bucket_of_[i] = static_cast<int64_t>(buckets_.size()) - 1;
      bytes += b;
    }
    had_grad_.assign(slots.size(), false);
  }

  void arm() {
    pending_.clear();
    for (const auto& b : buckets_) pending_.push_back(static_cast<int64_t>(b.size()));
    flats_.assign(buckets_.size(), at::Tensor());
    next_ = 0;
    armed_ = true;
  }
  // A gradient accumulator's post hook: slot's gradient is final for this step.
  void ready(int64_t slot) {
    if (!armed_) return;
    if (--pending_[bucket_of_[slot]] == 0) {
      while (next_ < buckets_.size() && pending_[next_] == 0) start(next_++);
    }
  }
  // Waits for every sum; had_grad() then tells which gradients this rank had.
  void finish() {
    if (!armed_) arm();
    armed_ = false;
    started_in_backward_ = static_cast<int64_t>(next_);
    while (next_ < buckets_.size()) start(next_++);
    comm_.finish_sums();
    for (size_t b = 0; b < buckets_.size(); ++b) {
      int64_t offset = 0;
      for (const int64_t i : buckets_[b]) {
        const at::Tensor& grad = slots_[i].param.grad();
        grad.copy_(flats_[b].narrow(0, offset, grad.numel()).view(grad.sizes()));
        offset += grad.numel();
      }
    }
  }
  // Buckets of the last finish(): in all, and started from the hooks.
  int64_t size() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t started_in_backward() const { return started_in_backward_; }
  bool had_grad(int64_t slot) const { return had_grad_[slot]; }

 private:
  void start(size_t b) {
    std::vector<at::Tensor> views;
    for (const int64_t i : buckets_[b]) {
      at::Tensor& grad = slots_[i].param.mutable_grad();
      had_grad_[i] = grad.defined();
      if (!grad.defined()) grad = at::zeros_like(slots_[i].param);
      views.push_back(grad.reshape({-1}));
    }
    flats_[b] = at::cat(views);
    comm_.start_sum(flats_[b], "the gradient all-reduce");
  }

  const std::vector<ParamSlot>& slots_;
  Communicator& comm_;
  std::vector<std::vector<int64_t>> buckets_;  // slot indices
  std::vector<int64_t> bucket_of_;
  std::vector<int64_t> pending_;  // gradients not yet final, per bucket
  std::vector<at::Tensor> flats_;
  std::vector<bool> had_grad_;
  size_t next_ = 0;  // the next bucket to start
  int64_t started_in_backward_ = 0;
  bool armed_ = false;
};

// A post hook on a parameter's gradient accumulator (held here: a parameter keeps only a weak reference to it).
struct TrainStep::Hook {
  std::shared_ptr<torch::autograd::Node> accumulator;
  uintptr_t key = 0;
};

TrainStep::TrainStep(ElectraModel& model, AdamW& optimizer, double max_grad_norm, bool bf16, Communicator* comm)
    : TrainStep(optimizer, max_grad_norm, bf16, comm) {
  model_ = &model;
}

TrainStep::TrainStep(AdamW& optimizer, double max_grad_norm, bool bf16, Communicator* comm)
    : optimizer_(optimizer), max_grad_norm_(max_grad_norm), bf16_(bf16), comm_(comm) {
  if (comm_ == nullptr || !comm_->distributed()) return;
  buckets_ = std::make_unique<GradientBuckets>(optimizer_.slots(), *comm_);
  const auto& slots = optimizer_.slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(slots[i].param);
    GradientBuckets* buckets = buckets_.get();
    const auto slot = static_cast<int64_t>(i);
    const uintptr_t key = accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [buckets, slot](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          buckets->ready(slot);
          return outputs;
        }));
    hooks_.push_back(std::make_unique<Hook>(Hook{std::move(accumulator), key}));
  }
}

TrainStep::~TrainStep() {
  for (auto& hook : hooks_) hook->accumulator->del_post_hook(hook->key);
}

StepResult TrainStep::run(const std::vector<Batch>& micro_batches, double lr, const std::function<bool()>& abandon) {
  if (model_ == nullptr) throw std::logic_error("TrainStep::run(micro_batches): the step was built without a model");
  StepLoss loss;
  loss.divisor = static_cast<double>(micro_batches.size());
  for (const Batch& batch : micro_batches) loss.weights.push_back(batch.loss_weight);
  loss.loss = [&](size_t m) {
    const Batch& batch = micro_batches[m];
    return model_->loss(model_->forward(batch.input_ids, batch.attention_mask, batch.token_type_ids), batch.targets);
  };
  loss.abandon = abandon;
  return run(loss, lr);
}

StepResult TrainStep::run(const StepLoss& step_loss, double lr, const std::function<void()>& on_gradients) {
  StepResult result;
  const double n = step_loss.divisor;
  const bool distributed = buckets_ != nullptr;
  // The last micro-batch this rank runs: its backward pass starts the gradient sums.
  const std::vector<double>& weights = step_loss.weights;
  size_t last = weights.size();
  for (size_t m = 0; m < weights.size(); ++m) {
    if (weights[m] != 0) last = m;
  }
  // What abandoning the step sets back: the generators' states at its start (dropout draws from them).
  const bool may_abandon = !distributed && step_loss.abandon && weights.size() > 1;
  const at::Device device = optimizer_.slots().front().param.device();
  at::Tensor cpu_rng, cuda_rng;
  if (may_abandon) {
    cpu_rng = at::detail::getDefaultCPUGenerator().get_state();
    if (device.is_cuda()) cuda_rng = at::globalContext().defaultGenerator(device).get_state();
  }
  for (size_t m = 0; m < weights.size(); ++m) {
    if (weights[m] == 0) continue;  // no loss term of this micro-batch on this rank
    if (may_abandon && m > 0) crash_point("step.micro_batch");
    if (may_abandon && m > 0 && step_loss.abandon()) {
      optimizer_.zero_grad();
      at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();
      cpu_generator.set_state(cpu_rng);
      if (cuda_rng.defined()) {
        at::Generator cuda_generator = at::globalContext().defaultGenerator(device);
        cuda_generator.set_state(cuda_rng);
      }
      result.abandoned = true;
      result.loss = 0;
      return result;
    }
    at::Tensor loss;
    {
      AutocastGuard autocast(bf16_);
      loss = step_loss.loss(m);
    }
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      result.finite = false;
      result.bad_loss = value;
      if (!distributed) return result;
      break;  // the other ranks learn it from the all-reduce below
    }
    // A weight of 1 (one process) and a divisor of 1 (pre-training): the same operations, bit for bit, as without.
    result.loss += value * weights[m] / n;
    if (distributed && m == last) buckets_->arm();
    ((loss * weights[m]) / n).backward();
  }
  if (distributed) {
    // The gradient sums (started during the last backward pass), then which parameters have a gradient anywhere,
    // the loss and a non-finite flag.
    buckets_->finish();
    result.buckets = buckets_->size();
    result.buckets_started_in_backward = buckets_->started_in_backward();
    const auto& slots = optimizer_.slots();
    const auto k = static_cast<int64_t>(slots.size());
    at::Tensor stats = at::zeros({k + 2}, at::kDouble);
    auto s = stats.accessor<double, 1>();
    for (int64_t i = 0; i < k; ++i) s[i] = buckets_->had_grad(i) ? 1.0 : 0.0;
    s[k] = result.finite ? result.loss : 0.0;
    s[k + 1] = result.finite ? 0.0 : 1.0;
    // On the gradients' device: NCCL sums device tensors only.
    const at::Tensor summed = stats.to(slots.front().param.device());
    comm_->all_reduce_sum({summed}, "the all-reduce of the step's loss");
    stats.copy_(summed);
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
  if (on_gradients) on_gradients();
  result.grad_norm = clip_grad_norm(optimizer_.slots(), max_grad_norm_);
  optimizer_.step(lr);
  optimizer_.zero_grad();
  return result;
}

}  // namespace electra
