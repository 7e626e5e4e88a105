#include "model/encoder.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "model/torch_features.h"

namespace electra {

std::string shape_string(at::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

at::Tensor apply_activation(const at::Tensor& x, const std::string& name) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "gelu_new") {
    // Hugging Face's NewGELUActivation, written out as it is there.
    const double c = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + torch::tanh(c * (x + 0.044715 * torch::pow(x, 3.0))));
  }
  if (name == "relu") return torch::relu(x);
  throw std::invalid_argument(fmt::format("unsupported activation '{}'", name));
}

double lowest_value(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return std::numeric_limits<float>::lowest();
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    case at::kHalf:
      return static_cast<float>(std::numeric_limits<c10::Half>::lowest());
    case at::kBFloat16:
      return static_cast<float>(std::numeric_limits<c10::BFloat16>::lowest());
    default:
      throw std::invalid_argument(fmt::format("lowest_value: {} is not a floating dtype", c10::toString(dtype)));
  }
}

at::Tensor additive_attention_mask(const at::Tensor& attention_mask, at::ScalarType dtype) {
  auto zeros = torch::zeros(attention_mask.sizes(), attention_mask.options().dtype(dtype));
  return zeros.masked_fill(attention_mask == 0, lowest_value(dtype)).unsqueeze(1).unsqueeze(2);
}

void init_weights_like_hf(torch::nn::Module& module, double initializer_range) {
  torch::NoGradGuard no_grad;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    if (auto* linear = m->as<torch::nn::LinearImpl>()) {
      linear->weight.normal_(0.0, initializer_range);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* embedding = m->as<torch::nn::EmbeddingImpl>()) {
      embedding->weight.normal_(0.0, initializer_range);
      if (auto pad = embedding->options.padding_idx()) embedding->weight[*pad].zero_();
    } else if (auto* norm = m->as<torch::nn::LayerNormImpl>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

ElectraEmbeddingsImpl::ElectraEmbeddingsImpl(const ElectraConfig& c) {
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.embedding_size).padding_idx(c.pad_token_id)));
  position_embeddings = register_module(
      "position_embeddings", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.max_position_embeddings, c.embedding_size)));
  token_type_embeddings = register_module(
      "token_type_embeddings", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.type_vocab_size, c.embedding_size)));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embedding_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

at::Tensor ElectraEmbeddingsImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  const int64_t length = input_ids.size(1);
  auto positions = torch::arange(length, input_ids.options().dtype(torch::kLong)).unsqueeze(0);
  // Same summation order as Hugging Face: words + token types, then positions.
  auto x = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  x = x + position_embeddings(positions);
  return dropout(LayerNorm(x));
}

ElectraSelfAttentionImpl::ElectraSelfAttentionImpl(const ElectraConfig& c)
    : heads_(c.num_attention_heads), head_size_(c.hidden_size / c.num_attention_heads) {
  query = register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(c.attention_probs_dropout_prob));
}

at::Tensor ElectraSelfAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  const int64_t batch = hidden.size(0), length = hidden.size(1);
  auto split_heads = [&](const at::Tensor& x) { return x.view({batch, length, heads_, head_size_}).transpose(1, 2); };
  auto q = split_heads(query(hidden));
  auto k = split_heads(key(hidden));
  auto v = split_heads(value(hidden));
#if ELECTRA_FUSED_KERNELS
  // LibTorch 2: one fused attention kernel (flash / memory-efficient / math, chosen by PyTorch), the path Hugging
  // Face's "sdpa" attention takes. The mask is given in the query's dtype (bf16 under autocast), clamped to that
  // dtype's lowest finite value as Hugging Face does.
  at::Tensor mask = additive_mask;
  if (mask.defined() && mask.scalar_type() != q.scalar_type()) {
    mask = mask.clamp_min(lowest_value(q.scalar_type())).to(q.scalar_type());
  }
  const double dropout_p = is_training() ? dropout->options.p() : 0.0;
  auto context = at::scaled_dot_product_attention(q, k, v, mask.defined() ? c10::optional<at::Tensor>(mask) : c10::nullopt,
                                                  dropout_p, /*is_causal=*/false);  // [B, A, T, D]
#else
  const double scaling = 1.0 / std::sqrt(static_cast<double>(head_size_));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) * scaling;
  if (additive_mask.defined()) scores = scores + additive_mask;
  auto probs = dropout(torch::softmax(scores, -1));
  auto context = torch::matmul(probs, v);  // [B, A, T, D]
#endif
  return context.transpose(1, 2).contiguous().view({batch, length, heads_ * head_size_});
}

ElectraResidualOutputImpl::ElectraResidualOutputImpl(int64_t in_features, const ElectraConfig& c) {
  dense = register_module("dense", torch::nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

at::Tensor ElectraResidualOutputImpl::forward(const at::Tensor& x, const at::Tensor& residual) {
  return LayerNorm(dropout(dense(x)) + residual);
}

ElectraAttentionImpl::ElectraAttentionImpl(const ElectraConfig& c) {
  self = register_module("self", ElectraSelfAttention(c));
  output = register_module("output", ElectraResidualOutput(c.hidden_size, c));
}

at::Tensor ElectraAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  return output(self(hidden, additive_mask), hidden);
}

ElectraIntermediateImpl::ElectraIntermediateImpl(const ElectraConfig& c) : activation_(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

at::Tensor ElectraIntermediateImpl::forward(const at::Tensor& x) { return apply_activation(dense(x), activation_); }

ElectraLayerImpl::ElectraLayerImpl(const ElectraConfig& c) {
  attention = register_module("attention", ElectraAttention(c));
  intermediate = register_module("intermediate", ElectraIntermediate(c));
  output = register_module("output", ElectraResidualOutput(c.intermediate_size, c));
}

at::Tensor ElectraLayerImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  auto attended = attention(hidden, additive_mask);
  return output(intermediate(attended), attended);
}

ElectraLayerStackImpl::ElectraLayerStackImpl(const ElectraConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(ElectraLayer(c));
}

at::Tensor ElectraLayerStackImpl::forward(at::Tensor hidden, const at::Tensor& additive_mask) {
  for (const auto& module : *layer) hidden = module->as<ElectraLayerImpl>()->forward(hidden, additive_mask);
  return hidden;
}

PoolerImpl::PoolerImpl(const ElectraConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
}

at::Tensor PoolerImpl::forward(const at::Tensor& hidden) { return torch::tanh(dense(hidden.select(1, 0))); }

ElectraEncoderImpl::ElectraEncoderImpl(const ElectraConfig& c) : ElectraEncoderImpl(c, ElectraEmbeddings(c)) {}

ElectraEncoderImpl::ElectraEncoderImpl(const ElectraConfig& c, ElectraEmbeddings shared)
    : max_positions_(c.max_position_embeddings) {
  embeddings = register_module("embeddings", std::move(shared));
  if (c.embedding_size != c.hidden_size)
    embeddings_project = register_module("embeddings_project", torch::nn::Linear(c.embedding_size, c.hidden_size));
  encoder = register_module("encoder", ElectraLayerStack(c));
  if (c.has_pooler()) pooler = register_module("pooler", Pooler(c));
}

at::Tensor ElectraEncoderImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                       const at::Tensor& token_type_ids) {
  if (input_ids.dim() != 2)
    throw std::invalid_argument(fmt::format("input_ids must be [batch, length], got {} dimensions", input_ids.dim()));
  const int64_t length = input_ids.size(1);
  if (length > max_positions_)
    throw std::invalid_argument(
        fmt::format("sequence length {} exceeds max_position_embeddings {}", length, max_positions_));
  auto check_shape = [&](const at::Tensor& t, const char* name) {
    if (t.defined() && t.sizes() != input_ids.sizes())
      throw std::invalid_argument(fmt::format("{} has shape {}, input_ids {}", name, shape_string(t.sizes()),
                                              shape_string(input_ids.sizes())));
  };
  check_shape(attention_mask, "attention_mask");
  check_shape(token_type_ids, "token_type_ids");

  const auto device = embeddings->word_embeddings->weight.device();
  const auto ids = input_ids.to(device, torch::kLong);
  const auto types =
      token_type_ids.defined() ? token_type_ids.to(device, torch::kLong) : torch::zeros_like(ids);
  const auto mask = attention_mask.defined() ? attention_mask.to(device) : torch::ones_like(ids);

  auto hidden = embeddings(ids, types);
  if (!embeddings_project.is_empty()) hidden = embeddings_project(hidden);
  // Every position attended (no padding): no mask at all, as Hugging Face's SDPA path does; the fused attention
  // kernels are then free to take their fastest (flash) path. The outputs are the same either way.
  const bool all_attended = !attention_mask.defined() || (mask.numel() > 0 && !(mask == 0).any().item<bool>());
  return encoder(hidden, all_attended ? at::Tensor() : additive_attention_mask(mask, hidden.scalar_type()));
}

}  // namespace electra
