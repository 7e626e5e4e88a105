// ELECTRA's pre-training pair as Hugging Face lays it out: the discriminator (ElectraForPreTraining: encoder +
// discriminator_predictions) and the generator (ElectraForMaskedLM: a narrower encoder + generator_predictions +
// generator_lm_head tied to the word embeddings). Both encoders hold one and the same embeddings module, as
// google-research/electra shares the "electra/embeddings" scope; each keeps its own embeddings_project.
#pragma once

#include <torch/nn/module.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "heads/pretraining.h"
#include "model/config.h"
#include "model/encoder.h"
#include "model/tensor_io.h"

namespace electra {

class ElectraDiscriminatorImpl : public torch::nn::Module {
 public:
  ElectraDiscriminatorImpl(const ElectraConfig& config, ElectraEmbeddings shared);
  // -> RTD logits [B, T]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids);

  ElectraEncoder electra{nullptr};
  DiscriminatorPredictions discriminator_predictions{nullptr};
};
TORCH_MODULE(ElectraDiscriminator);

class ElectraGeneratorImpl : public torch::nn::Module {
 public:
  ElectraGeneratorImpl(const ElectraConfig& config, ElectraEmbeddings shared);
  // MLM logits [M, V] of the positions where `positions` ([B, T] bool) is true, in row-major order.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids,
                     const at::Tensor& positions);
  at::Tensor word_embedding_weight() const;

  ElectraEncoder electra{nullptr};
  GeneratorPredictions generator_predictions{nullptr};
  GeneratorLmHead generator_lm_head{nullptr};
};
TORCH_MODULE(ElectraGenerator);

class ElectraPretrainingModelImpl : public torch::nn::Module {
 public:
  // Random init as Hugging Face's _init_weights. `generator` must have the discriminator's vocabulary, E and
  // positions. Throws std::invalid_argument for an invalid config.
  ElectraPretrainingModelImpl(const ElectraConfig& discriminator, const ElectraConfig& generator);

  // Every trainable tensor once (the shared embeddings under their discriminator name), in a fixed order:
  // "discriminator.<HF key>", "generator.<HF key>".
  std::vector<std::pair<std::string, at::Tensor>> unique_named_parameters() const;
  // The names (as unique_named_parameters spells them) of the tensors only the discriminator uses: its encoder
  // layers, embedding projection and head, not the embeddings it shares with the generator.
  std::vector<std::string> discriminator_only_parameter_names() const;
  // Hugging Face state dicts of ElectraForPreTraining and ElectraForMaskedLM (generator_lm_head.weight included,
  // equal to the word embeddings), detached, on the CPU as float32.
  TensorMap discriminator_state_dict() const;
  TensorMap generator_state_dict() const;

  const ElectraConfig& discriminator_config() const { return discriminator_config_; }
  const ElectraConfig& generator_config() const { return generator_config_; }

  ElectraEmbeddings embeddings{nullptr};
  ElectraDiscriminator discriminator{nullptr};
  ElectraGenerator generator{nullptr};

 private:
  ElectraConfig discriminator_config_, generator_config_;
};
TORCH_MODULE(ElectraPretrainingModel);

// Writes DIR/discriminator (ElectraForPreTraining) and DIR/generator (ElectraForMaskedLM) in Hugging Face's layout
// (config.json, model.safetensors, the tokenizer files of `vocab_dir`), each folder whole: written beside, then
// renamed into place. Throws std::runtime_error naming the file that could not be written.
void save_pretraining_pair(const ElectraPretrainingModelImpl& model, const std::filesystem::path& dir,
                           const std::filesystem::path& vocab_dir);

}  // namespace electra
