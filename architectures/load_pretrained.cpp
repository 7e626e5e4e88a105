#include "architectures/electra_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "architectures/checkpoints.h"
#include "architectures/electra_model_impl.h"
#include "architectures/key_names.h"

namespace electra {
namespace {

// Checkpoint key -> internal name: the family's encoder prefix ("electra.", "bert.") for encoder keys, LayerNorm
// gamma/beta -> weight/bias.
std::string canonical_name(const std::string& key, const ModelFamily& family) {
  std::string name = key;
  if (has_suffix(name, ".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
  if (has_suffix(name, ".beta")) name = name.substr(0, name.size() - 5) + ".bias";
  for (const char* part : {"embeddings.", "embeddings_project.", "encoder.", "pooler."})
    if (has_prefix(name, part)) return family.encoder_prefix() + name;
  return name;
}

// Keys a checkpoint may hold that fine-tuning and inference do not use: the pre-training classes' heads and the
// embeddings' buffers older versions saved.
bool is_unused_key(const std::string& name, const ModelFamily& family) {
  for (const auto& prefix : family.pretraining_head_prefixes)
    if (has_prefix(name, prefix)) return true;
  const std::string embeddings = family.encoder_prefix() + "embeddings.";
  return name == embeddings + "position_ids" || name == embeddings + "token_type_ids";
}

bool is_pooler_key(const std::string& name, const ModelFamily& family) {
  return has_prefix(name, family.encoder_prefix() + "pooler.");
}

// Whether any key of the file carries the family's encoder prefix (head classes) or none does (the bare encoder).
bool prefixed_file(const TensorMap& tensors, const ModelFamily& family) {
  for (const auto& entry : tensors)
    if (has_prefix(entry.first, family.encoder_prefix())) return true;
  return false;
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "F32";
    case at::kHalf:
      return "F16";
    case at::kBFloat16:
      return "BF16";
    case at::kDouble:
      return "F64";
    default:
      return c10::toString(t);
  }
}

// The config of the model to build from a checkpoint's config and the caller's options; `reuse_head` says
// whether the checkpoint's head (if any) belongs to that model.
ElectraConfig resolve_config(const ElectraConfig& checkpoint, const LoadOptions& options, const std::string& dir,
                             bool* reuse_head) {
  if (options.architecture == Architecture::pretraining || options.architecture == Architecture::masked_lm)
    throw std::invalid_argument("LoadOptions: the pre-training heads (discriminator, generator) cannot be built; "
                                "choose a fine-tuning head or the bare encoder");
  // A pre-training checkpoint (discriminator or generator) gives the bare encoder; its head keys are ignored.
  const bool pretraining_head =
      checkpoint.architecture == Architecture::pretraining || checkpoint.architecture == Architecture::masked_lm;
  const Architecture own = pretraining_head ? Architecture::model : checkpoint.architecture;
  ElectraConfig config = checkpoint;
  config.architecture = options.architecture == Architecture::model ? own : options.architecture;
  if (!options.problem_type.empty()) config.problem_type = options.problem_type;
  if (!options.id2label.empty()) {
    config.id2label = options.id2label;
  } else if (config.architecture != own) {
    if (config.architecture == Architecture::question_answering) config.id2label = default_labels(2);
    if (config.architecture == Architecture::sequence_classification && config.problem_type == "regression")
      config.id2label = default_labels(1);
  } else if (config.problem_type == "regression" && config.num_labels() != 1) {
    config.id2label = default_labels(1);
  }
  ElectraConfig own_config = checkpoint;
  own_config.architecture = own;
  *reuse_head = config.architecture == own && config.id2label == checkpoint.id2label &&
                config.is_regression() == own_config.is_regression();
  if (std::string error = config.validation_error(); !error.empty())
    throw std::invalid_argument(fmt::format("cannot build {} on {}: {}", config.hf_class(), dir, error));
  return config;
}

// The shape config.json gives an encoder parameter (internal name), with the config key that sets each of its
// sizes; nullopt for names outside the encoder (heads, unknown keys: apply_weights judges those).
struct ExpectedShape {
  std::vector<int64_t> shape;
  std::vector<const char*> keys;  // one per dimension
};
std::optional<ExpectedShape> expected_encoder_shape(const ElectraConfig& c, const std::string& name) {
  const std::pair<int64_t, const char*> V{c.vocab_size, "vocab_size"}, P{c.max_position_embeddings, "max_position_embeddings"},
      T{c.type_vocab_size, "type_vocab_size"}, E{c.embedding_size, "embedding_size"}, H{c.hidden_size, "hidden_size"},
      I{c.intermediate_size, "intermediate_size"};
  using Dims = std::vector<std::pair<int64_t, const char*>>;
  auto shape = [](const Dims& dims) {
    ExpectedShape out;
    for (const auto& [size, key] : dims) out.shape.push_back(size), out.keys.push_back(key);
    return out;
  };
  const std::string prefix = c.family().encoder_prefix();
  const std::map<std::string, Dims> embeddings = {
      {"embeddings.word_embeddings.weight", {V, E}},
      {"embeddings.position_embeddings.weight", {P, E}},
      {"embeddings.token_type_embeddings.weight", {T, E}},
      {"embeddings.LayerNorm.weight", {E}},
      {"embeddings.LayerNorm.bias", {E}},
      {"embeddings_project.weight", {H, E}},
      {"embeddings_project.bias", {H}},
      {"pooler.dense.weight", {H, H}},
      {"pooler.dense.bias", {H}},
  };
  if (!has_prefix(name, prefix)) return std::nullopt;
  if (auto it = embeddings.find(name.substr(prefix.size())); it != embeddings.end()) return shape(it->second);
  const std::string layer_prefix = prefix + "encoder.layer.";
  if (!has_prefix(name, layer_prefix)) return std::nullopt;
  const size_t dot = name.find('.', layer_prefix.size());
  if (dot == std::string::npos) return std::nullopt;
  const std::map<std::string, Dims> layer = {
      {"attention.self.query.weight", {H, H}},   {"attention.self.query.bias", {H}},
      {"attention.self.key.weight", {H, H}},     {"attention.self.key.bias", {H}},
      {"attention.self.value.weight", {H, H}},   {"attention.self.value.bias", {H}},
      {"attention.output.dense.weight", {H, H}}, {"attention.output.dense.bias", {H}},
      {"attention.output.LayerNorm.weight", {H}}, {"attention.output.LayerNorm.bias", {H}},
      {"intermediate.dense.weight", {I, H}},     {"intermediate.dense.bias", {I}},
      {"output.dense.weight", {H, I}},           {"output.dense.bias", {H}},
      {"output.LayerNorm.weight", {H}},          {"output.LayerNorm.bias", {H}},
  };
  if (auto it = layer.find(name.substr(dot + 1)); it != layer.end()) return shape(it->second);
  return std::nullopt;
}

// The config keys whose sizes a tensor of shape `found` contradicts, as the subject of a sentence ("key
// 'vocab_size' gives", "keys 'hidden_size' and 'embedding_size' give"; all keys of the shape when the number of
// dimensions differs).
std::string contradicted_keys(const ExpectedShape& expected, at::IntArrayRef found) {
  std::vector<std::string> keys;
  for (size_t d = 0; d < expected.shape.size(); ++d) {
    const bool differs = found.size() != expected.shape.size() || found[d] != expected.shape[d];
    const std::string key = fmt::format("'{}'", expected.keys[d]);
    if (differs && std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : " and ") + k;
  return (keys.size() > 1 ? "keys " : "key ") + out + (keys.size() > 1 ? " give" : " gives");
}

// Checks the weights file against config.json before the model is built, so that a config.json whose sizes the
// file does not have is refused by key, not by allocating what it describes: every encoder tensor's shape, and
// the number of layers the file holds.
void check_weights_against_config(const ElectraConfig& config, const TensorMap& tensors, const std::string& file,
                                  const std::string& config_file) {
  const ModelFamily& family = config.family();
  int64_t layers_in_file = 0;
  const std::string layer_prefix = family.encoder_prefix() + "encoder.layer.";
  const bool file_prefixed = prefixed_file(tensors, family);
  struct Mismatch {
    std::string key;
    at::Tensor tensor;
    ExpectedShape expected;
  };
  std::optional<Mismatch> mismatch;
  for (const auto& [key, tensor] : tensors) {
    const std::string name = canonical_name(key, family);
    if (is_unused_key(name, family)) continue;
    if (has_prefix(name, layer_prefix)) {
      size_t used = 0;
      int64_t index = -1;
      try {
        index = std::stoll(name.substr(layer_prefix.size()), &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used > 0 && index >= 0) layers_in_file = std::max(layers_in_file, index + 1);
    }
    const auto expected = expected_encoder_shape(config, name);
    if (!expected || tensor.sizes() == at::IntArrayRef(expected->shape)) continue;
    // A matrix names both of its sizes: report it rather than a bias of the same layer.
    if (!mismatch || tensor.dim() > mismatch->tensor.dim()) mismatch = Mismatch{key, tensor, *expected};
  }
  if (mismatch)
    throw std::runtime_error(fmt::format(
        "{}: {} shape {} for '{}', but {} holds {}; config.json and the weights do not belong together",
        config_file, contradicted_keys(mismatch->expected, mismatch->tensor.sizes()),
        shape_string(mismatch->expected.shape), mismatch->key, file, shape_string(mismatch->tensor.sizes())));
  if (layers_in_file != config.num_hidden_layers) {
    const bool any = layers_in_file > 0;
    throw std::runtime_error(fmt::format(
        "{}: key 'num_hidden_layers' is {}, but {} holds {}; config.json and the weights do not belong together",
        config_file, config.num_hidden_layers, file,
        any ? fmt::format("layers 0..{} ('{}encoder.layer.{}.*')", layers_in_file - 1,
                          file_prefixed ? family.encoder_prefix() : "",
                          layers_in_file - 1)
            : std::string("no encoder layer")));
  }
}

// Copies checkpoint tensors into the module's parameters, checking names and shapes (see load_pretrained).
void apply_weights(ElectraModelImpl& impl, const TensorMap& tensors, const std::string& file, bool reuse_head,
                   LoadReport& report) {
  const auto params = impl.named_parameters(/*recurse=*/true);
  const std::string head_prefix = impl.head_prefix();
  const ModelFamily& family = impl.config().family();
  const std::string prefix = family.encoder_prefix();
  const bool file_prefixed = prefixed_file(tensors, family);
  auto file_name = [&](const std::string& name) {
    return !file_prefixed && has_prefix(name, prefix) ? name.substr(prefix.size()) : name;
  };
  auto head_layout = [&] {
    std::string keys;
    for (const auto& p : params)
      if (!head_prefix.empty() && has_prefix(p.key(), head_prefix)) keys += (keys.empty() ? "" : ", ") + p.key();
    return keys;
  };

  std::map<std::string, std::pair<std::string, at::Tensor>> found;  // internal name -> (file key, tensor)
  for (const auto& [key, tensor] : tensors) {
    const std::string name = canonical_name(key, family);
    // A pooler the built class has not (BertModel's, under BertForTokenClassification) is ignored, as transformers
    // does.
    if (is_unused_key(name, family) || (family.pooler && is_pooler_key(name, family) && !impl.electra->pooler)) {
      report.ignored.push_back(key);
      continue;
    }
    const bool head_namespace = has_prefix(name, "classifier.") || has_prefix(name, "qa_outputs.");
    if (head_namespace && (!reuse_head || head_prefix.empty())) {
      report.ignored.push_back(key);
      continue;
    }
    if (head_namespace && (!has_prefix(name, head_prefix) || !params.contains(name)))
      throw std::runtime_error(fmt::format(
          "{}: key '{}' does not match the {} head layout (expected {}); a checkpoint with another head layout "
          "(e.g. the TF original's classifier.weight) gives wrong outputs in this one",
          file, key, impl.config().hf_class(), head_layout()));
    if (!params.contains(name))
      throw std::runtime_error(fmt::format(
          "{}: unexpected key '{}': the model config.json describes (E={}, H={}, {} layers) has no such parameter",
          file, key, impl.config().embedding_size, impl.config().hidden_size, impl.config().num_hidden_layers));
    if (!found.emplace(name, std::make_pair(key, tensor)).second)
      throw std::runtime_error(
          fmt::format("{}: keys '{}' and '{}' name the same parameter", file, found.at(name).first, key));
  }

  torch::NoGradGuard no_grad;
  std::set<std::string> dtypes;
  std::vector<std::string> missing_head, missing_pooler;
  size_t head_params = 0, pooler_params = 0;
  for (const auto& p : params) {
    const bool is_head = !head_prefix.empty() && has_prefix(p.key(), head_prefix);
    const bool is_pooler = is_pooler_key(p.key(), family);
    head_params += is_head ? 1 : 0;
    pooler_params += is_pooler ? 1 : 0;
    auto it = found.find(p.key());
    if (it == found.end()) {
      if (!is_head && !is_pooler)
        throw std::runtime_error(fmt::format("{}: missing encoder key '{}'", file, file_name(p.key())));
      (is_head ? missing_head : missing_pooler).push_back(p.key());
      continue;
    }
    const auto& [key, tensor] = it->second;
    if (tensor.sizes() != p.value().sizes())
      throw std::runtime_error(fmt::format("{}: key '{}': expected shape {}, found {}", file, key,
                                           shape_string(p.value().sizes()), shape_string(tensor.sizes())));
    if (!at::isFloatingType(tensor.scalar_type()))
      throw std::runtime_error(
          fmt::format("{}: key '{}': expected floating-point weights, found {}", file, key, dtype_name(tensor.scalar_type())));
    dtypes.insert(dtype_name(tensor.scalar_type()));
    p.value().copy_(tensor.to(p.value().scalar_type()));
  }
  if (!missing_head.empty() && missing_head.size() != head_params)
    throw std::runtime_error(fmt::format("{}: incomplete {} head: key '{}' is missing (expected {})", file,
                                         impl.config().hf_class(), missing_head.front(), head_layout()));
  // A checkpoint of a class without the pooler (BertForMaskedLM, BertForTokenClassification): the pooler is new,
  // initialised as transformers does; half a pooler is a damaged file.
  if (!missing_pooler.empty() && missing_pooler.size() != pooler_params)
    throw std::runtime_error(
        fmt::format("{}: incomplete pooler: key '{}' is missing", file, file_name(missing_pooler.front())));
  // Named as the built class names them (BertModel: no prefix).
  const bool bare = impl.config().architecture == Architecture::model;
  for (const auto& name : missing_pooler) report.newly_initialised.push_back(bare ? name.substr(prefix.size()) : name);
  for (const auto& name : missing_head) report.newly_initialised.push_back(name);
  report.weights_dtype.clear();
  for (const auto& d : dtypes) report.weights_dtype += (report.weights_dtype.empty() ? "" : "+") + d;
}

}  // namespace

ElectraModel load_pretrained(const std::filesystem::path& dir, const LoadOptions& options, LoadReport* report,
                             TensorMap* ignored) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(fmt::format("{}: not a model directory (it does not exist or is not a directory)",
                                         dir.string()));
  const auto config_file = dir / "config.json";
  if (!std::filesystem::exists(config_file))
    throw std::runtime_error(fmt::format("{}: missing config.json (not a Hugging Face checkpoint directory)",
                                         dir.string()));
  const ElectraConfig checkpoint = ElectraConfig::from_file(config_file);
  bool reuse_head = false;
  const ElectraConfig config = resolve_config(checkpoint, options, dir.string(), &reuse_head);

  LoadReport local;
  local.checkpoint_architecture = checkpoint.architecture;
  const TensorMap tensors = read_weights(dir, &local.weights_file);
  check_weights_against_config(config, tensors, local.weights_file.string(), config_file.string());
  ElectraModel model(config);
  apply_weights(*std::dynamic_pointer_cast<ElectraModelImpl>(model.module()), tensors, local.weights_file.string(),
                reuse_head, local);
  model.module()->eval();
  if (ignored)
    for (const auto& key : local.ignored) ignored->insert_or_assign(key, tensors.at(key));
  if (report) *report = std::move(local);
  return model;
}

CheckpointSummary summarize_checkpoint(const std::filesystem::path& dir) {
  CheckpointSummary summary;
  const ElectraModel model = load_pretrained(dir, {}, &summary.report);
  summary.config = model.config();
  const int64_t layers = summary.config.num_hidden_layers;
  for (const auto& [name, tensor] : model.named_parameters()) {
    const int64_t depth = model.parameter_depth(name);
    (depth == 0 ? summary.embedding_parameters
                : depth <= layers ? summary.encoder_parameters : summary.head_parameters) += tensor.numel();
  }
  return summary;
}

}  // namespace electra
