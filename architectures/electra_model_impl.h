// The torch module behind ElectraModel: the encoder registered under the family's encoder name ("electra", "bert")
// plus the head of the configured architecture ("classifier" or "qa_outputs"), so named_parameters() are Hugging
// Face's keys of the family's classes (ElectraFor*, BertFor*).
#pragma once

#include <torch/nn/module.h>

#include "architectures/electra_model.h"
#include "heads/pooled_classification.h"
#include "heads/sequence_classification.h"
#include "heads/span_extraction.h"
#include "heads/token_classification.h"
#include "model/config.h"
#include "model/encoder.h"

namespace electra {

class ElectraModelImpl : public torch::nn::Module {
 public:
  // Random init as Hugging Face. Throws std::invalid_argument for an invalid config or the pre-training head.
  explicit ElectraModelImpl(const ElectraConfig& config);
  ModelOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids);
  at::Tensor loss(const ModelOutput& output, const ModelTargets& targets) const;
  const ElectraConfig& config() const { return config_; }
  // Prefix of the head's parameter names ("classifier.", "qa_outputs."), "" for the bare encoder.
  std::string head_prefix() const;

  ElectraEncoder electra{nullptr};  // the encoder of any family, registered under the family's encoder name
  SequenceClassificationHead sequence_head{nullptr};  // SequenceHeadKind::first_token_mlp (ELECTRA)
  PooledClassificationHead pooled_head{nullptr};      // SequenceHeadKind::pooled_linear (BERT)
  TokenClassificationHead token_head{nullptr};
  SpanExtractionHead span_head{nullptr};

 private:
  ElectraConfig config_;
};

}  // namespace electra
