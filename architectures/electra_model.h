// ElectraModel: the encoder + one task head of a model family (model/family.h): Hugging Face's ElectraModel /
// BertModel and their fine-tuning classes (ElectraFor*, BertFor*), loadable from and savable to a Hugging Face
// checkpoint directory in the family's own layout.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/config.h"
#include "model/tensor_io.h"

namespace electra {

struct ModelOutput {
  at::Tensor last_hidden_state;  // [B, T, H] (always filled)
  at::Tensor pooler_output;      // [B, H] when the model has a pooler (BertModel, BertForSequenceClassification)
  at::Tensor logits;             // [B, C] sequence classification / regression, [B, T, C] token classification
  at::Tensor start_logits, end_logits;  // [B, T] span extraction
};

// Targets of a batch; undefined tensors mean "no loss".
struct ModelTargets {
  at::Tensor labels;          // [B] long (classification), [B] float (regression), [B, T] long (-100 ignored)
  at::Tensor start_positions, end_positions;  // [B] long
};

class ElectraModelImpl;  // defined in architectures/electra_model_impl.h (torch-heavy)

// Owns the module; the pimpl keeps torch/torch.h out of this header's users' way.
class ElectraModel {
 public:
  explicit ElectraModel(const ElectraConfig& config);  // random init as HF (N(0, initializer_range), ...)
  ~ElectraModel();
  ElectraModel(ElectraModel&&) noexcept;
  ElectraModel& operator=(ElectraModel&&) noexcept;

  const ElectraConfig& config() const;
  ModelOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                      const at::Tensor& token_type_ids) const;
  // HF's loss for the head: CE (ignore -100), MSE for num_labels == 1, mean of start/end CE for QA.
  at::Tensor loss(const ModelOutput& output, const ModelTargets& targets) const;

  std::shared_ptr<torch::nn::Module> module() const;  // for parameters(), train()/eval(), to(device)
  // State dict with Hugging Face key names (the family's encoder prefix, electra.* / bert.*, for the head
  // architectures; none for the bare encoder).
  TensorMap state_dict() const;
  // Parameter name (HF naming) -> depth for layer-wise LR decay: embeddings 0, layer i -> i+1, pooler and head L+1.
  int64_t parameter_depth(const std::string& hf_name) const;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;  // HF names

 private:
  std::shared_ptr<ElectraModelImpl> impl_;
};

// Encoder parameters (the head excluded): the count the published tables quote.
int64_t encoder_parameter_count(const ElectraModel& model);

// Loads DIR/config.json + weights (model.safetensors, else pytorch_model.bin); the model is in eval mode.
// The family's layout is config.json's model_type's (model/family.h). Keys may carry the encoder prefix (`electra.`,
// `bert.`) or not; a pooler the file lacks is newly initialised, one the built class has not is ignored; LayerNorm
// `gamma`/`beta` are accepted, F16/BF16/F64 weights are converted to F32. Throws std::runtime_error naming the file
// and key (missing config.json, missing encoder key, half a pooler, unexpected key, shape mismatch with expected vs
// found shape, a head whose keys do not match the expected layout, unsupported model_type / hidden_act, bad file).
// `ignored`, when given, receives the tensors of report->ignored by their file keys (a pre-training checkpoint's
// heads, for a caller that runs them), so that nothing reads the weights file a second time.
ElectraModel load_pretrained(const std::filesystem::path& dir, const LoadOptions& options = {},
                             LoadReport* report = nullptr, TensorMap* ignored = nullptr);
// Writes config.json (model_type, architectures, id2label, label2id, problem_type) + model.safetensors in the family's
// layout and the tokenizer files of
// tokenizer_dir fitted to the model's positions, DIR swapped in whole (model/model_folder.h's write_model_folder).
void save_pretrained(const ElectraModel& model, const std::filesystem::path& dir,
                     const std::filesystem::path& tokenizer_dir);

}  // namespace electra
