#include "heads/pretraining.h"

#include <ATen/ATen.h>

#include "model/encoder.h"

namespace electra {

DiscriminatorPredictionsImpl::DiscriminatorPredictionsImpl(const ElectraConfig& c) : activation_(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dense_prediction = register_module("dense_prediction", torch::nn::Linear(c.hidden_size, 1));
}

at::Tensor DiscriminatorPredictionsImpl::forward(const at::Tensor& hidden) {
  return dense_prediction(apply_activation(dense(hidden), activation_)).squeeze(-1);
}

GeneratorPredictionsImpl::GeneratorPredictionsImpl(const ElectraConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.embedding_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embedding_size}).eps(c.layer_norm_eps)));
}

at::Tensor GeneratorPredictionsImpl::forward(const at::Tensor& hidden) {
  return LayerNorm(apply_activation(dense(hidden), "gelu"));  // HF: get_activation("gelu"), whatever hidden_act
}

GeneratorLmHeadImpl::GeneratorLmHeadImpl(int64_t vocab_size) {
  bias = register_parameter("bias", at::zeros({vocab_size}));
}

}  // namespace electra
