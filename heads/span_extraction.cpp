#include "heads/span_extraction.h"

#include <fmt/format.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/loss.h>

#include <stdexcept>

namespace electra {

SpanExtractionHeadImpl::SpanExtractionHeadImpl(const ElectraConfig& c) {
  weight = register_parameter("weight", torch::empty({2, c.hidden_size}));
  bias = register_parameter("bias", torch::zeros({2}));
  reset_parameters(c.initializer_range);
}

std::pair<at::Tensor, at::Tensor> SpanExtractionHeadImpl::forward(const at::Tensor& hidden) {
  auto logits = torch::nn::functional::linear(hidden, weight, bias);  // [B, T, 2]
  return {logits.select(-1, 0).contiguous(), logits.select(-1, 1).contiguous()};
}

void SpanExtractionHeadImpl::reset_parameters(double std) {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, std);
  bias.zero_();
}

at::Tensor span_extraction_loss(const at::Tensor& start_logits, const at::Tensor& end_logits,
                                const at::Tensor& start_positions, const at::Tensor& end_positions) {
  const int64_t batch = start_logits.size(0), length = start_logits.size(1);
  if (start_positions.numel() != batch || end_positions.numel() != batch)
    throw std::invalid_argument(fmt::format("{} start and {} end positions for a batch of {}",
                                            start_positions.numel(), end_positions.numel(), batch));
  auto options = torch::nn::functional::CrossEntropyFuncOptions().ignore_index(length);
  auto target = [&](const at::Tensor& positions) {
    return positions.reshape({-1}).to(start_logits.device(), torch::kLong).clamp(0, length);
  };
  auto start_loss = torch::nn::functional::cross_entropy(start_logits, target(start_positions), options);
  auto end_loss = torch::nn::functional::cross_entropy(end_logits, target(end_positions), options);
  return (start_loss + end_loss) / 2;
}

}  // namespace electra
