// config.json of a checkpoint of a registered model family (model/family.h: electra, bert), as Hugging Face writes it.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/family.h"

namespace electra {

// The Hugging Face class name of `a` in the family of `model_type` ("BertForSequenceClassification", ...); throws
// std::invalid_argument for an unknown model_type.
std::string to_hf_class(Architecture a, const std::string& model_type);

// Activations of `hidden_act` this implementation computes exactly as Hugging Face does.
std::vector<std::string> supported_hidden_acts();

struct ElectraConfig {
  std::string model_type = "electra";  // a registered family (model/family.h)
  int64_t vocab_size = 30522;
  int64_t embedding_size = 128;  // = hidden_size in families without config.json's embedding_size (BERT)
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 4;
  int64_t intermediate_size = 1024;
  std::string hidden_act = "gelu";
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::optional<double> classifier_dropout;
  int64_t pad_token_id = 0;
  Architecture architecture = Architecture::model;
  std::vector<std::string> id2label;        // index -> name; size = num_labels
  std::string problem_type;                 // "", "single_label_classification", "regression"
  std::string raw_json;                     // the file as read, so save() keeps keys we do not model

  const ModelFamily& family() const { return find_model_family(model_type); }
  std::string hf_class() const { return to_hf_class(architecture, model_type); }  // of `architecture`
  // The encoder has the family's pooler (BERT's pooler.dense) in this architecture.
  bool has_pooler() const { return family().has_pooler(architecture); }
  int64_t num_labels() const { return static_cast<int64_t>(id2label.size()); }
  // Hugging Face's rule for sequence classification: problem_type when set, else one label means regression.
  bool is_regression() const;
  // Dropout in front of the classifier layers: classifier_dropout when set, else hidden_dropout_prob.
  double head_dropout() const { return classifier_dropout.value_or(hidden_dropout_prob); }
  // Parameters of the model this config builds (encoder and head), computed without building it (a double: a
  // hostile config may describe more than int64 holds).
  double parameter_count() const;
  // The first problem found (naming the key and value), or "" when the config is usable.
  std::string validation_error() const;
  // Validates (a registered model_type, a class of its family, supported hidden_act, H % A == 0, ...); throws
  // std::runtime_error naming file and key.
  static ElectraConfig from_file(const std::filesystem::path& file);
  static ElectraConfig from_json_text(const std::string& text, const std::string& source_name);
  // Hugging Face's layout: every standard key, architectures, id2label/label2id (string keys), problem_type,
  // plus the keys of raw_json this struct does not model. Sorted keys, indent 2, trailing newline.
  std::string to_json_text() const;
};

// The plausible upper bound of a size key of config.json ("vocab_size", "hidden_size", ..., "num_labels"): far
// above any published encoder; a value beyond it is refused before anything is allocated.
int64_t size_bound(const std::string& key);

// LABEL_0 ... LABEL_{n-1}, the names Hugging Face gives labels nobody named.
std::vector<std::string> default_labels(int64_t n);

// The discriminator shapes of a named size: "small" and "base" as google/electra-{small,base}-discriminator
// (E=128/H=256/L=12/A=4/I=1024 and E=H=768/L=12/A=12/I=3072), "tiny" for tests and demos (E=64/H=128/L=2/A=2/
// I=256); vocab_size is left to the caller. Throws std::invalid_argument listing the names.
ElectraConfig preset_config(const std::string& name);
std::vector<std::string> preset_config_names();

}  // namespace electra
