#include "heads/token_classification.h"

#include <fmt/format.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/loss.h>

#include <stdexcept>

#include "model/encoder.h"

namespace electra {

TokenClassificationHeadImpl::TokenClassificationHeadImpl(const ElectraConfig& c) {
  weight = register_parameter("weight", torch::empty({c.num_labels(), c.hidden_size}));
  bias = register_parameter("bias", torch::zeros({c.num_labels()}));
  dropout = register_module("dropout", torch::nn::Dropout(c.head_dropout()));
  reset_parameters(c.initializer_range);
}

at::Tensor TokenClassificationHeadImpl::forward(const at::Tensor& hidden) {
  return torch::nn::functional::linear(dropout(hidden), weight, bias);
}

void TokenClassificationHeadImpl::reset_parameters(double std) {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, std);
  bias.zero_();
}

at::Tensor token_classification_loss(const at::Tensor& logits, const at::Tensor& labels) {
  if (labels.dim() != 2 || labels.size(0) != logits.size(0) || labels.size(1) != logits.size(1))
    throw std::invalid_argument(fmt::format("token labels have shape {}, logits {}", shape_string(labels.sizes()),
                                            shape_string(logits.sizes())));
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}), labels.reshape({-1}).to(logits.device(), torch::kLong),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
}

}  // namespace electra
