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

at::Tensor masked_lm_loss(const at::Tensor& logits, const at::Tensor& targets, double denominator) {
  const int64_t m = targets.size(0);
  if (m == 0) return logits.sum() * 0.0;
  const double den = denominator > 0 ? denominator : static_cast<double>(m);
  return at::cross_entropy_loss(logits.to(at::kFloat), targets, {}, at::Reduction::Sum) / den;
}

at::Tensor replaced_token_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& attention_mask,
                               double denominator) {
  const at::Tensor weights = attention_mask.to(at::kFloat);
  const at::Tensor per_token = at::binary_cross_entropy_with_logits(logits.to(at::kFloat), labels.to(at::kFloat), {},
                                                                    {}, at::Reduction::None);
  const at::Tensor sum = (per_token * weights).sum();
  return denominator > 0 ? sum / denominator : sum / weights.sum().clamp_min(1.0);
}

BertPredictionTransformImpl::BertPredictionTransformImpl(const ElectraConfig& c) : activation_(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

at::Tensor BertPredictionTransformImpl::forward(const at::Tensor& hidden) {
  return LayerNorm(apply_activation(dense(hidden), activation_));
}

BertLmPredictionHeadImpl::BertLmPredictionHeadImpl(const ElectraConfig& c) {
  transform = register_module("transform", BertPredictionTransform(c));
  bias = register_parameter("bias", at::zeros({c.vocab_size}));
}

at::Tensor BertLmPredictionHeadImpl::forward(const at::Tensor& hidden, const at::Tensor& word_embeddings) {
  return at::linear(transform(hidden), word_embeddings, bias);
}

}  // namespace electra
