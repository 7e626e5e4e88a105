#include "heads/pooled_classification.h"

#include <torch/nn/functional/linear.h>

namespace electra {

PooledClassificationHeadImpl::PooledClassificationHeadImpl(const ElectraConfig& c) {
  weight = register_parameter("weight", torch::empty({c.num_labels(), c.hidden_size}));
  bias = register_parameter("bias", torch::zeros({c.num_labels()}));
  dropout = register_module("dropout", torch::nn::Dropout(c.head_dropout()));
  reset_parameters(c.initializer_range);
}

at::Tensor PooledClassificationHeadImpl::forward(const at::Tensor& pooled) {
  return torch::nn::functional::linear(dropout(pooled), weight, bias);
}

void PooledClassificationHeadImpl::reset_parameters(double std) {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, std);
  bias.zero_();
}

}  // namespace electra
