// Model families (config.json's `model_type`): what one BERT-style encoder's checkpoints differ in from another's,
// as data. The encoder (model/encoder.h) is shared; a family names its config keys, its checkpoint key layout and
// which heads it has. Adding a family is one entry in register_builtin_families() (docs/model-families.md).
#pragma once

#include <string>
#include <vector>

namespace electra {

enum class Architecture { model, sequence_classification, token_classification, question_answering, pretraining,
                          masked_lm };  // masked_lm: ElectraForMaskedLM (a pre-training generator), BertForMaskedLM

// How a family's sequence classification / regression head reads the encoder.
enum class SequenceHeadKind {
  first_token_mlp,  // ELECTRA: h[:, 0] -> dropout -> dense -> gelu -> dropout -> out_proj (classifier.dense/out_proj)
  pooled_linear,    // BERT: pooler output -> dropout -> classifier (classifier.weight/bias)
};

// What a family's *ForPreTraining class predicts (its *ForMaskedLM class is a masked LM in every family).
enum class PretrainingHeadKind {
  replaced_token_detection,  // ELECTRA's discriminator: is each token the original or a replacement?
  masked_lm_next_sentence,   // BERT: masked LM (cls.predictions) + next sentence (cls.seq_relationship)
};

struct ModelFamily {
  std::string model_type;    // config.json's model_type: "electra", "bert"
  std::string class_prefix;  // Hugging Face class names: class_prefix + "Model", + "ForSequenceClassification", ...
  // The encoder's submodule name in the head classes ("electra", "bert"): their checkpoint keys start with it and a
  // dot; the bare encoder class (ElectraModel, BertModel) saves its keys without it.
  std::string encoder_name;
  std::string tokenizer_class;  // tokenizer_config.json's tokenizer_class of a folder electra init writes
  // config.json's embedding_size is read: embeddings of width E projected to H when E != H (ELECTRA). Otherwise the
  // embeddings are H wide and the key is not read (BERT, as transformers' BertConfig).
  bool embedding_size_key = false;
  // The encoder has `pooler` (dense H->H + tanh on the first token) in the classes of pooled_architectures.
  bool pooler = false;
  std::vector<Architecture> pooled_architectures;
  SequenceHeadKind sequence_head = SequenceHeadKind::first_token_mlp;
  PretrainingHeadKind pretraining_head = PretrainingHeadKind::replaced_token_detection;
  // Key prefixes of the pre-training classes' heads: loading for fine-tuning or the bare encoder ignores them.
  std::vector<std::string> pretraining_head_prefixes;

  std::string encoder_prefix() const { return encoder_name + "."; }
  std::string hf_class(Architecture a) const;  // "BertForSequenceClassification", ...
  // Inverse of hf_class; throws std::invalid_argument listing this family's class names.
  Architecture parse_hf_class(const std::string& hf_class) const;
  bool has_pooler(Architecture a) const;
};

// Adds a family; throws std::invalid_argument when its model_type is already registered.
void register_model_family(ModelFamily family);
// Registers electra and bert (once; later calls do nothing).
void register_builtin_families();
// The family of a model_type; throws std::invalid_argument "unsupported model_type 'x' (supported: bert, electra)".
const ModelFamily& find_model_family(const std::string& model_type);
std::vector<std::string> model_family_names();  // sorted

}  // namespace electra
