// The encoder of every model family (Hugging Face `ElectraModel`, `BertModel`): embeddings of width E, optional
// projection to H (ELECTRA), L post-LN BERT layers, optional pooler (BERT). Submodule and parameter names are Hugging
// Face's, so named_parameters() gives HF state-dict keys.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <string>

#include "model/config.h"

namespace electra {

// "[4, 24]", for error messages.
std::string shape_string(at::IntArrayRef shape);
// hidden_act by name ("gelu" is the exact erf form); throws std::invalid_argument for other names.
at::Tensor apply_activation(const at::Tensor& x, const std::string& name);
// The most negative finite value of a floating dtype (torch.finfo(dtype).min).
double lowest_value(at::ScalarType dtype);
// [B, T] mask of 1 (attend) / 0 (padding) -> [B, 1, 1, T] additive mask of `dtype`: 0 or lowest_value(dtype).
at::Tensor additive_attention_mask(const at::Tensor& attention_mask, at::ScalarType dtype);
// Hugging Face's _init_weights over every Linear, Embedding (padding row zeroed) and LayerNorm below `module`.
void init_weights_like_hf(torch::nn::Module& module, double initializer_range);

class ElectraEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ElectraEmbeddingsImpl(const ElectraConfig& config);
  // input_ids, token_type_ids: [B, T] long -> [B, T, E]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: Hugging Face's name
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ElectraEmbeddings);

class ElectraSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit ElectraSelfAttentionImpl(const ElectraConfig& config);
  // hidden: [B, T, H], additive_mask: [B, 1, 1, T] or undefined (attend everywhere) -> context [B, T, H]
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  int64_t heads_, head_size_;
};
TORCH_MODULE(ElectraSelfAttention);

// Linear + dropout + residual + LayerNorm (attention.output and output of a layer).
class ElectraResidualOutputImpl : public torch::nn::Module {
 public:
  ElectraResidualOutputImpl(int64_t in_features, const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& residual);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: Hugging Face's name
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ElectraResidualOutput);

class ElectraAttentionImpl : public torch::nn::Module {
 public:
  explicit ElectraAttentionImpl(const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);

  ElectraSelfAttention self{nullptr};
  ElectraResidualOutput output{nullptr};
};
TORCH_MODULE(ElectraAttention);

class ElectraIntermediateImpl : public torch::nn::Module {
 public:
  explicit ElectraIntermediateImpl(const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear dense{nullptr};

 private:
  std::string activation_;
};
TORCH_MODULE(ElectraIntermediate);

class ElectraLayerImpl : public torch::nn::Module {
 public:
  explicit ElectraLayerImpl(const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);

  ElectraAttention attention{nullptr};
  ElectraIntermediate intermediate{nullptr};
  ElectraResidualOutput output{nullptr};
};
TORCH_MODULE(ElectraLayer);

// The layer stack (Hugging Face's `encoder` submodule with its `layer` list).
class ElectraLayerStackImpl : public torch::nn::Module {
 public:
  explicit ElectraLayerStackImpl(const ElectraConfig& config);
  at::Tensor forward(at::Tensor hidden, const at::Tensor& additive_mask);

  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(ElectraLayerStack);

// BERT's pooler: dense (H->H) + tanh on the first token's hidden state.
class PoolerImpl : public torch::nn::Module {
 public:
  explicit PoolerImpl(const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // [B, T, H] -> [B, H]

  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(Pooler);

class ElectraEncoderImpl : public torch::nn::Module {
 public:
  explicit ElectraEncoderImpl(const ElectraConfig& config);
  // An encoder whose `embeddings` submodule is `shared` (one module, one set of parameters, registered in both
  // encoders), as ELECTRA's generator and discriminator share theirs; embeddings_project stays its own.
  ElectraEncoderImpl(const ElectraConfig& config, ElectraEmbeddings shared);
  // input_ids [B, T] long; attention_mask and token_type_ids [B, T] or undefined (all ones / all zeros).
  // Returns last_hidden_state [B, T, H]. Throws std::invalid_argument on bad shapes or T > max positions.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids);

  ElectraEmbeddings embeddings{nullptr};
  torch::nn::Linear embeddings_project{nullptr};  // only when embedding_size != hidden_size
  ElectraLayerStack encoder{nullptr};
  Pooler pooler{nullptr};  // only when config.has_pooler()

 private:
  int64_t max_positions_;
};
TORCH_MODULE(ElectraEncoder);

}  // namespace electra
