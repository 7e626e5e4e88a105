// Hugging Face's ElectraClassificationHead: h[:, 0] -> dropout -> dense (H->H) -> gelu -> dropout -> out_proj
// (H->num_labels). Serves classification (cross-entropy) and one-output regression (MSE).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "model/config.h"

namespace electra {

class SequenceClassificationHeadImpl : public torch::nn::Module {
 public:
  explicit SequenceClassificationHeadImpl(const ElectraConfig& config);
  // hidden: [B, T, H] -> logits [B, num_labels]
  at::Tensor forward(const at::Tensor& hidden);
  // N(0, std) weights, zero biases.
  void reset_parameters(double std);

  torch::nn::Linear dense{nullptr}, out_proj{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(SequenceClassificationHead);

// Mean cross-entropy of logits [B, C] against class indices [B] (-100 ignored), as CrossEntropyLoss.
at::Tensor sequence_classification_loss(const at::Tensor& logits, const at::Tensor& labels);
// Mean squared error of logits [B, 1] against targets [B] (any numeric dtype), as Hugging Face's MSELoss on
// squeezed tensors.
at::Tensor regression_loss(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace electra
