// Hugging Face's BertForSequenceClassification head: the pooler's output -> dropout -> `classifier` Linear
// (H -> num_labels). Holds `weight` / `bias` itself, so that registered as "classifier" its keys are HF's. Serves
// classification (cross-entropy) and one-output regression (MSE) with heads/sequence_classification.h's losses.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>

#include "model/config.h"

namespace electra {

class PooledClassificationHeadImpl : public torch::nn::Module {
 public:
  explicit PooledClassificationHeadImpl(const ElectraConfig& config);
  // pooled: [B, H] -> logits [B, num_labels]
  at::Tensor forward(const at::Tensor& pooled);
  // N(0, std) weight, zero bias.
  void reset_parameters(double std);

  at::Tensor weight, bias;  // [num_labels, H], [num_labels]
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(PooledClassificationHead);

}  // namespace electra
