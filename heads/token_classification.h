// Hugging Face's ElectraForTokenClassification head: dropout -> `classifier` Linear(H -> num_labels) on every
// position. The module holds `weight` / `bias` itself, so that registered as "classifier" its keys are HF's.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>

#include "model/config.h"

namespace electra {

class TokenClassificationHeadImpl : public torch::nn::Module {
 public:
  explicit TokenClassificationHeadImpl(const ElectraConfig& config);
  // hidden: [B, T, H] -> logits [B, T, num_labels]
  at::Tensor forward(const at::Tensor& hidden);
  void reset_parameters(double std);

  at::Tensor weight, bias;  // [num_labels, H], [num_labels]
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(TokenClassificationHead);

// Mean cross-entropy over positions whose label is not -100; labels [B, T].
at::Tensor token_classification_loss(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace electra
