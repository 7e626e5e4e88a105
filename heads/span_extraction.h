// Hugging Face's ElectraForQuestionAnswering head: `qa_outputs` Linear(H -> 2) on every position, no dropout,
// split into start and end logits. Holds `weight` / `bias` itself so that its keys are qa_outputs.{weight,bias}.
#pragma once

#include <torch/nn/module.h>

#include <utility>

#include "model/config.h"

namespace electra {

class SpanExtractionHeadImpl : public torch::nn::Module {
 public:
  explicit SpanExtractionHeadImpl(const ElectraConfig& config);
  // hidden: [B, T, H] -> (start_logits [B, T], end_logits [B, T])
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& hidden);
  void reset_parameters(double std);

  at::Tensor weight, bias;  // [2, H], [2]
};
TORCH_MODULE(SpanExtractionHead);

// Hugging Face's loss: positions clamped to [0, T], position T ignored, mean of start and end cross-entropy.
at::Tensor span_extraction_loss(const at::Tensor& start_logits, const at::Tensor& end_logits,
                                const at::Tensor& start_positions, const at::Tensor& end_positions);

}  // namespace electra
