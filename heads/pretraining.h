// The heads of Hugging Face's pre-training classes, by their names there: ElectraForPreTraining's
// `discriminator_predictions` (is each token the original or a replacement?), ElectraForMaskedLM's
// `generator_predictions` + `generator_lm_head` (which token belongs at each position?), and BERT's `cls.predictions`
// (BertForMaskedLM, BertForPreTraining) and `cls.seq_relationship` (BertForPreTraining: is sentence B the next one?).
// `electra pretrain` trains ELECTRA's (architectures/pretraining_pair.h); `electra predict` runs them all on a
// checkpoint (architectures/predictor.h).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <string>

#include "model/config.h"

namespace electra {

// discriminator_predictions: dense (H->H), hidden_act, dense_prediction (H->1).
class DiscriminatorPredictionsImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorPredictionsImpl(const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // [B, T, H] -> logits [B, T]

  torch::nn::Linear dense{nullptr}, dense_prediction{nullptr};

 private:
  std::string activation_;
};
TORCH_MODULE(DiscriminatorPredictions);

// generator_predictions: dense (H_g->E), gelu, LayerNorm(E).
class GeneratorPredictionsImpl : public torch::nn::Module {
 public:
  explicit GeneratorPredictionsImpl(const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& hidden);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: Hugging Face's name
};
TORCH_MODULE(GeneratorPredictions);

// generator_lm_head: its weight is the word embedding matrix; only the bias is its own.
class GeneratorLmHeadImpl : public torch::nn::Module {
 public:
  explicit GeneratorLmHeadImpl(int64_t vocab_size);
  at::Tensor bias;
};
TORCH_MODULE(GeneratorLmHead);

// BERT's cls.predictions.transform: dense (H->H), hidden_act, LayerNorm(H).
class BertPredictionTransformImpl : public torch::nn::Module {
 public:
  explicit BertPredictionTransformImpl(const ElectraConfig& config);
  at::Tensor forward(const at::Tensor& hidden);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: Hugging Face's name

 private:
  std::string activation_;
};
TORCH_MODULE(BertPredictionTransform);

// BERT's cls.predictions: transform, then the decoder, whose weight is the word embedding matrix (tied, as
// transformers ties it) and whose bias is `bias`.
class BertLmPredictionHeadImpl : public torch::nn::Module {
 public:
  explicit BertLmPredictionHeadImpl(const ElectraConfig& config);
  // hidden [..., H], word_embeddings [V, H] -> vocabulary logits [..., V]
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& word_embeddings);

  BertPredictionTransform transform{nullptr};
  at::Tensor bias;  // [V]
};
TORCH_MODULE(BertLmPredictionHead);

// ElectraForMaskedLM's loss: cross-entropy of `logits` [M, V] against the original ids `targets` [M], summed and
// divided by `denominator` (<= 0: M; with M = 0 a zero that keeps the graph). Hugging Face's mean over the labels
// that are not -100 is the denominator M; pre-training passes the global batch's count.
at::Tensor masked_lm_loss(const at::Tensor& logits, const at::Tensor& targets, double denominator = 0);
// ElectraForPreTraining's loss: binary cross-entropy with logits of `logits` [B, T] against `labels` [B, T] (1:
// replaced), summed over the tokens `attention_mask` keeps and divided by `denominator` (<= 0: their number, at
// least 1), as Hugging Face's mean over the active tokens.
at::Tensor replaced_token_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& attention_mask,
                               double denominator = 0);

}  // namespace electra
