#include "architectures/electra_model.h"

#include <fmt/format.h>

#include <stdexcept>

#include "architectures/electra_model_impl.h"
#include "architectures/key_names.h"

namespace electra {

ElectraModelImpl::ElectraModelImpl(const ElectraConfig& config) : config_(config) {
  if (config.architecture == Architecture::pretraining || config.architecture == Architecture::masked_lm)
    throw std::invalid_argument(
        fmt::format("{}'s and {}'s pre-training heads are not built here; use the bare encoder ({}) or a fine-tuning "
                    "head",
                    to_hf_class(Architecture::pretraining, config.model_type),
                    to_hf_class(Architecture::masked_lm, config.model_type),
                    to_hf_class(Architecture::model, config.model_type)));
  if (std::string error = config.validation_error(); !error.empty())
    throw std::invalid_argument("invalid ElectraConfig: " + error);
  electra = register_module(config.family().encoder_name, ElectraEncoder(config));
  init_weights_like_hf(*electra, config.initializer_range);
  switch (config.architecture) {
    case Architecture::sequence_classification:
      if (config.family().sequence_head == SequenceHeadKind::pooled_linear)
        pooled_head = register_module("classifier", PooledClassificationHead(config));
      else
        sequence_head = register_module("classifier", SequenceClassificationHead(config));
      break;
    case Architecture::token_classification:
      token_head = register_module("classifier", TokenClassificationHead(config));
      break;
    case Architecture::question_answering:
      span_head = register_module("qa_outputs", SpanExtractionHead(config));
      break;
    default:
      break;
  }
}

std::string ElectraModelImpl::head_prefix() const {
  switch (config_.architecture) {
    case Architecture::sequence_classification:
    case Architecture::token_classification:
      return "classifier.";
    case Architecture::question_answering:
      return "qa_outputs.";
    default:
      return "";
  }
}

ModelOutput ElectraModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                      const at::Tensor& token_type_ids) {
  ModelOutput out;
  out.last_hidden_state = electra(input_ids, attention_mask, token_type_ids);
  if (electra->pooler) out.pooler_output = electra->pooler(out.last_hidden_state);
  if (pooled_head) out.logits = pooled_head(out.pooler_output);
  if (sequence_head) out.logits = sequence_head(out.last_hidden_state);
  if (token_head) out.logits = token_head(out.last_hidden_state);
  if (span_head) std::tie(out.start_logits, out.end_logits) = span_head(out.last_hidden_state);
  return out;
}

at::Tensor ElectraModelImpl::loss(const ModelOutput& output, const ModelTargets& targets) const {
  switch (config_.architecture) {
    case Architecture::sequence_classification:
      if (!targets.labels.defined()) throw std::invalid_argument("sequence classification loss needs labels");
      return config_.is_regression() ? regression_loss(output.logits, targets.labels)
                                     : sequence_classification_loss(output.logits, targets.labels);
    case Architecture::token_classification:
      if (!targets.labels.defined()) throw std::invalid_argument("token classification loss needs labels");
      return token_classification_loss(output.logits, targets.labels);
    case Architecture::question_answering:
      if (!targets.start_positions.defined() || !targets.end_positions.defined())
        throw std::invalid_argument("span extraction loss needs start_positions and end_positions");
      return span_extraction_loss(output.start_logits, output.end_logits, targets.start_positions,
                                  targets.end_positions);
    default:
      throw std::invalid_argument(fmt::format("a bare {} has no loss", config_.hf_class()));
  }
}

ElectraModel::ElectraModel(const ElectraConfig& config) : impl_(std::make_shared<ElectraModelImpl>(config)) {}
ElectraModel::~ElectraModel() = default;
ElectraModel::ElectraModel(ElectraModel&&) noexcept = default;
ElectraModel& ElectraModel::operator=(ElectraModel&&) noexcept = default;

const ElectraConfig& ElectraModel::config() const { return impl_->config(); }

ModelOutput ElectraModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                  const at::Tensor& token_type_ids) const {
  return impl_->forward(input_ids, attention_mask, token_type_ids);
}

at::Tensor ElectraModel::loss(const ModelOutput& output, const ModelTargets& targets) const {
  return impl_->loss(output, targets);
}

std::shared_ptr<torch::nn::Module> ElectraModel::module() const { return impl_; }

std::vector<std::pair<std::string, at::Tensor>> ElectraModel::named_parameters() const {
  const bool bare = impl_->config().architecture == Architecture::model;
  const std::string prefix = impl_->config().family().encoder_prefix();
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : impl_->named_parameters(/*recurse=*/true)) {
    std::string name = p.key();
    if (bare && has_prefix(name, prefix)) name = name.substr(prefix.size());
    out.emplace_back(name, p.value());
  }
  return out;
}

TensorMap ElectraModel::state_dict() const {
  TensorMap out;
  for (const auto& [name, tensor] : named_parameters()) out.emplace(name, tensor.detach());
  return out;
}

int64_t ElectraModel::parameter_depth(const std::string& hf_name) const {
  const std::string prefix = impl_->config().family().encoder_prefix();
  const std::string name = has_prefix(hf_name, prefix) ? hf_name.substr(prefix.size()) : hf_name;
  const int64_t layers = impl_->config().num_hidden_layers;
  if (has_prefix(name, "embeddings.") || has_prefix(name, "embeddings_project.")) return 0;
  if (impl_->electra->pooler && has_prefix(name, "pooler.")) return layers + 1;
  const std::string layer_prefix = "encoder.layer.";
  if (has_prefix(name, layer_prefix)) {
    const std::string rest = name.substr(layer_prefix.size());
    size_t used = 0;
    int64_t index = -1;
    try {
      index = std::stoll(rest, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used > 0 && index >= 0 && index < layers && rest.size() > used && rest[used] == '.') return index + 1;
  }
  const std::string head_prefix = impl_->head_prefix();
  if (!head_prefix.empty() && has_prefix(hf_name, head_prefix)) return layers + 1;
  throw std::invalid_argument(
      fmt::format("parameter_depth: '{}' is not a parameter of this {}", hf_name, impl_->config().hf_class()));
}

int64_t encoder_parameter_count(const ElectraModel& model) {
  int64_t n = 0;
  const int64_t head_depth = model.config().num_hidden_layers + 1;
  for (const auto& [name, p] : model.named_parameters()) {
    if (model.parameter_depth(name) < head_depth) n += p.numel();
  }
  return n;
}

}  // namespace electra
