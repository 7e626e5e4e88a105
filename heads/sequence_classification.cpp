#include "heads/sequence_classification.h"

#include <fmt/format.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/loss.h>

#include <stdexcept>

#include "model/encoder.h"

namespace electra {

SequenceClassificationHeadImpl::SequenceClassificationHeadImpl(const ElectraConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  out_proj = register_module("out_proj", torch::nn::Linear(c.hidden_size, c.num_labels()));
  dropout = register_module("dropout", torch::nn::Dropout(c.head_dropout()));
  reset_parameters(c.initializer_range);
}

at::Tensor SequenceClassificationHeadImpl::forward(const at::Tensor& hidden) {
  auto x = dropout(hidden.select(1, 0));
  // The head's activation is gelu whatever hidden_act says (as in Hugging Face).
  x = dropout(apply_activation(dense(x), "gelu"));
  return out_proj(x);
}

void SequenceClassificationHeadImpl::reset_parameters(double std) {
  torch::NoGradGuard no_grad;
  for (auto* linear : {dense.get(), out_proj.get()}) {
    linear->weight.normal_(0.0, std);
    linear->bias.zero_();
  }
}

at::Tensor sequence_classification_loss(const at::Tensor& logits, const at::Tensor& labels) {
  if (labels.numel() != logits.size(0))
    throw std::invalid_argument(
        fmt::format("{} labels for a batch of {}", labels.numel(), logits.size(0)));
  return torch::nn::functional::cross_entropy(
      logits.view({-1, logits.size(-1)}), labels.reshape({-1}).to(logits.device(), torch::kLong),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
}

at::Tensor regression_loss(const at::Tensor& logits, const at::Tensor& targets) {
  if (targets.numel() != logits.numel())
    throw std::invalid_argument(fmt::format("{} regression targets for {} outputs", targets.numel(), logits.numel()));
  return torch::mse_loss(logits.reshape({-1}), targets.reshape({-1}).to(logits.device(), logits.scalar_type()));
}

}  // namespace electra
