#include "model/family.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace electra {
namespace {

// A deque: the references find_model_family hands out stay valid as families are added.
std::deque<ModelFamily>& registry() {
  static std::deque<ModelFamily> families;
  return families;
}

// The Hugging Face class name of each architecture, after the family's prefix.
const std::vector<std::pair<Architecture, std::string>>& class_suffixes() {
  static const std::vector<std::pair<Architecture, std::string>> suffixes = {
      {Architecture::model, "Model"},
      {Architecture::sequence_classification, "ForSequenceClassification"},
      {Architecture::token_classification, "ForTokenClassification"},
      {Architecture::question_answering, "ForQuestionAnswering"},
      {Architecture::pretraining, "ForPreTraining"},
      {Architecture::masked_lm, "ForMaskedLM"},
  };
  return suffixes;
}

}  // namespace

std::string ModelFamily::hf_class(Architecture a) const {
  for (const auto& [arch, suffix] : class_suffixes())
    if (arch == a) return class_prefix + suffix;
  throw std::invalid_argument("unknown Architecture value");
}

Architecture ModelFamily::parse_hf_class(const std::string& name) const {
  std::vector<std::string> known;
  for (const auto& [arch, suffix] : class_suffixes()) {
    if (name == class_prefix + suffix) return arch;
    known.push_back(class_prefix + suffix);
  }
  throw std::invalid_argument(fmt::format("unsupported architecture '{}' for model_type '{}' (supported: {})", name,
                                          model_type, fmt::join(known, ", ")));
}

bool ModelFamily::has_pooler(Architecture a) const {
  return pooler && std::find(pooled_architectures.begin(), pooled_architectures.end(), a) != pooled_architectures.end();
}

void register_model_family(ModelFamily family) {
  auto& families = registry();
  if (std::any_of(families.begin(), families.end(), [&](const auto& f) { return f.model_type == family.model_type; }))
    throw std::invalid_argument(fmt::format("model_type '{}' is already registered", family.model_type));
  families.push_back(std::move(family));
}

void register_builtin_families() {
  static std::once_flag once;
  std::call_once(once, [] {
    ModelFamily electra_family;
    electra_family.model_type = "electra";
    electra_family.class_prefix = "Electra";
    electra_family.encoder_name = "electra";
    electra_family.tokenizer_class = "ElectraTokenizer";
    electra_family.embedding_size_key = true;
    electra_family.sequence_head = SequenceHeadKind::first_token_mlp;
    electra_family.pretraining_head = PretrainingHeadKind::replaced_token_detection;
    electra_family.pretraining_head_prefixes = {"discriminator_predictions.", "generator_predictions.",
                                                "generator_lm_head.", "generator."};
    register_model_family(std::move(electra_family));

    // transformers' modeling_bert.py: BertModel(add_pooling_layer=True) in BertModel, BertForSequenceClassification and
    // BertForPreTraining; the token classification, question answering and masked LM classes have no pooler.
    ModelFamily bert;
    bert.model_type = "bert";
    bert.class_prefix = "Bert";
    bert.encoder_name = "bert";
    bert.tokenizer_class = "BertTokenizer";
    bert.pooler = true;
    bert.pooled_architectures = {Architecture::model, Architecture::sequence_classification, Architecture::pretraining};
    bert.sequence_head = SequenceHeadKind::pooled_linear;
    bert.pretraining_head = PretrainingHeadKind::masked_lm_next_sentence;
    bert.pretraining_head_prefixes = {"cls."};
    register_model_family(std::move(bert));
  });
}

const ModelFamily& find_model_family(const std::string& model_type) {
  register_builtin_families();
  for (const auto& f : registry())
    if (f.model_type == model_type) return f;
  throw std::invalid_argument(fmt::format("unsupported model_type '{}' (supported: {})", model_type,
                                          fmt::join(model_family_names(), ", ")));
}

std::vector<std::string> model_family_names() {
  register_builtin_families();
  std::vector<std::string> names;
  for (const auto& f : registry()) names.push_back(f.model_type);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace electra
