#include "model/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>

#include "common/files.h"
#include "common/limits.h"

namespace electra {
namespace {

using nlohmann::json;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Typed reads of config.json keys; an absent key keeps the default, a wrong type names the key and value.
class Reader {
 public:
  Reader(const json& root, std::string source) : root_(root), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw std::runtime_error(fmt::format("{}: key '{}': {}", source_, key, what));
  }
  const json* find(const std::string& key) const {
    auto it = root_.find(key);
    return it == root_.end() ? nullptr : &*it;
  }
  void read(const std::string& key, int64_t& value) const {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_number_integer()) fail(key, fmt::format("expected an integer, found {}", v->dump()));
    value = v->get<int64_t>();
  }
  void read(const std::string& key, double& value) const {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_number()) fail(key, fmt::format("expected a number, found {}", v->dump()));
    value = v->get<double>();
  }
  void read(const std::string& key, std::optional<double>& value) const {
    const json* v = find(key);
    if (!v || v->is_null()) return;
    if (!v->is_number()) fail(key, fmt::format("expected a number or null, found {}", v->dump()));
    value = v->get<double>();
  }
  void read(const std::string& key, std::string& value, bool null_allowed = false) const {
    const json* v = find(key);
    if (!v || (null_allowed && v->is_null())) return;
    if (!v->is_string()) fail(key, fmt::format("expected a string, found {}", v->dump()));
    value = v->get<std::string>();
  }

 private:
  const json& root_;
  std::string source_;
};

std::vector<std::string> read_id2label(const Reader& reader, const json* node) {
  if (!node->is_object()) reader.fail("id2label", fmt::format("expected an object, found {}", node->dump()));
  std::map<int64_t, std::string> by_id;
  for (const auto& [key, value] : node->items()) {
    size_t used = 0;
    int64_t id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || id < 0) reader.fail("id2label", fmt::format("key \"{}\" is not a label index", key));
    if (!value.is_string()) reader.fail("id2label", fmt::format("label {} is {}, not a string", key, value.dump()));
    if (!by_id.emplace(id, value.get<std::string>()).second)
      reader.fail("id2label", fmt::format("label index {} given twice", id));
  }
  std::vector<std::string> labels;
  for (const auto& [id, name] : by_id) {
    if (id != static_cast<int64_t>(labels.size()))
      reader.fail("id2label", fmt::format("label indices must be 0..{} without gaps, index {} is missing",
                                          by_id.size() - 1, labels.size()));
    labels.push_back(name);
  }
  return labels;
}

}  // namespace

std::string to_hf_class(Architecture a, const std::string& model_type) {
  return find_model_family(model_type).hf_class(a);
}

std::vector<std::string> supported_hidden_acts() { return {"gelu", "gelu_new", "gelu_pytorch_tanh", "relu"}; }

int64_t size_bound(const std::string& key) {
  // common/limits.h: above any published model, below what exhausts memory before the weights could be checked.
  static const std::map<std::string, int64_t> bounds = {
      {"vocab_size", limits::kVocabSize},
      {"embedding_size", limits::kEmbeddingSize},
      {"hidden_size", limits::kHiddenSize},
      {"num_hidden_layers", limits::kLayers},
      {"num_attention_heads", limits::kAttentionHeads},
      {"intermediate_size", limits::kIntermediateSize},
      {"max_position_embeddings", limits::kPositions},
      {"type_vocab_size", limits::kTypeVocabSize},
      {"num_labels", limits::kLabels},
  };
  auto it = bounds.find(key);
  if (it == bounds.end()) throw std::invalid_argument(fmt::format("size_bound: no bound for key '{}'", key));
  return it->second;
}

std::vector<std::string> default_labels(int64_t n) {
  std::vector<std::string> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(fmt::format("LABEL_{}", i));
  return labels;
}

bool ElectraConfig::is_regression() const {
  if (architecture != Architecture::sequence_classification) return false;
  if (!problem_type.empty()) return problem_type == "regression";
  return num_labels() == 1;
}

double ElectraConfig::parameter_count() const {
  const double V = vocab_size, P = max_position_embeddings, T = type_vocab_size, E = embedding_size, H = hidden_size,
               I = intermediate_size, L = num_hidden_layers, N = num_labels();
  double n = (V + P + T) * E + 2 * E;          // embeddings and their LayerNorm
  if (has_pooler()) n += H * H + H;
  if (embedding_size != hidden_size) n += E * H + H;  // embeddings_project
  n += L * (4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H);
  switch (architecture) {
    case Architecture::sequence_classification:
      n += family().sequence_head == SequenceHeadKind::first_token_mlp ? H * H + H + H * N + N : H * N + N;
      break;
    case Architecture::token_classification:
      n += H * N + N;
      break;
    case Architecture::question_answering:
      n += H * 2 + 2;
      break;
    default:
      break;
  }
  return n;
}

std::string ElectraConfig::validation_error() const {
  try {
    family();
  } catch (const std::invalid_argument& e) {
    return fmt::format("key 'model_type': {}", e.what());
  }
  if (!family().embedding_size_key && embedding_size != hidden_size)
    return fmt::format("key 'embedding_size': {} differs from hidden_size {}, but model_type '{}' has no embedding "
                       "projection",
                       embedding_size, hidden_size, model_type);
  const std::pair<const char*, int64_t> positive[] = {
      {"vocab_size", vocab_size},
      {"embedding_size", embedding_size},
      {"hidden_size", hidden_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"intermediate_size", intermediate_size},
      {"max_position_embeddings", max_position_embeddings},
      {"type_vocab_size", type_vocab_size},
  };
  for (const auto& [key, value] : positive)
    if (value <= 0) return fmt::format("key '{}': must be positive, found {}", key, value);
  for (const auto& [key, value] : positive) {
    const int64_t bound = size_bound(key);
    if (value > bound)
      return fmt::format("key '{}': {} is {}", key, value, limits::above(bound));
  }
  if (num_labels() > size_bound("num_labels"))
    return fmt::format("key 'id2label': {} labels are {}", num_labels(), limits::above(size_bound("num_labels")));
  if (hidden_size % num_attention_heads != 0)
    return fmt::format("key 'hidden_size': {} is not a multiple of num_attention_heads {}", hidden_size,
                       num_attention_heads);
  const auto acts = supported_hidden_acts();
  if (std::find(acts.begin(), acts.end(), hidden_act) == acts.end())
    return fmt::format("key 'hidden_act': unsupported value '{}' (supported: {})", hidden_act, join(acts));
  if (!(layer_norm_eps > 0)) return fmt::format("key 'layer_norm_eps': must be positive, found {}", layer_norm_eps);
  if (!(initializer_range >= 0))
    return fmt::format("key 'initializer_range': must not be negative, found {}", initializer_range);
  const std::pair<const char*, double> probs[] = {
      {"hidden_dropout_prob", hidden_dropout_prob},
      {"attention_probs_dropout_prob", attention_probs_dropout_prob},
      {"classifier_dropout", classifier_dropout.value_or(0.0)},
  };
  for (const auto& [key, value] : probs)
    if (!(value >= 0 && value < 1)) return fmt::format("key '{}': must be in [0, 1), found {}", key, value);
  if (pad_token_id < 0 || pad_token_id >= vocab_size)
    return fmt::format("key 'pad_token_id': {} is outside the vocabulary of {} entries", pad_token_id, vocab_size);
  if (problem_type != "" && problem_type != "single_label_classification" && problem_type != "regression")
    return fmt::format("key 'problem_type': unsupported value '{}' (supported: single_label_classification, regression)",
                       problem_type);
  std::set<std::string> seen;
  for (size_t i = 0; i < id2label.size(); ++i)
    if (!seen.insert(id2label[i]).second)
      return fmt::format("key 'id2label': label '{}' appears twice (index {})", id2label[i], i);
  switch (architecture) {
    case Architecture::sequence_classification:
      if (num_labels() < 1) return "key 'id2label': a sequence classification head needs at least one label";
      if (problem_type == "regression" && num_labels() != 1)
        return fmt::format("key 'problem_type': regression needs exactly one output, found {} labels", num_labels());
      break;
    case Architecture::token_classification:
      if (num_labels() < 1) return "key 'id2label': a token classification head needs at least one label";
      break;
    case Architecture::question_answering:
      if (num_labels() != 2)
        return fmt::format("key 'id2label': {} needs num_labels 2 (start, end), found {}", hf_class(), num_labels());
      break;
    default:
      break;
  }
  return "";
}

ElectraConfig ElectraConfig::from_file(const std::filesystem::path& file) {
  return from_json_text(read_file(file), file.string());
}

ElectraConfig ElectraConfig::from_json_text(const std::string& text, const std::string& source_name) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(fmt::format("{}: invalid JSON: {}", source_name, e.what()));
  }
  if (!root.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object", source_name));
  const Reader reader(root, source_name);

  ElectraConfig c;
  c.model_type.clear();
  reader.read("model_type", c.model_type);
  const std::string supported = fmt::format("{}", fmt::join(model_family_names(), ", "));
  if (c.model_type.empty()) reader.fail("model_type", fmt::format("missing (supported: {})", supported));
  try {
    c.family();
  } catch (const std::invalid_argument&) {
    reader.fail("model_type", fmt::format("unsupported value '{}' (supported: {})", c.model_type, supported));
  }
  const ModelFamily& family = c.family();
  std::string position_embedding_type = "absolute";
  reader.read("position_embedding_type", position_embedding_type, true);
  if (position_embedding_type != "absolute")
    reader.fail("position_embedding_type", fmt::format("unsupported value '{}' (supported: absolute)",
                                                       position_embedding_type));
  for (const char* key : {"is_decoder", "add_cross_attention"}) {
    const json* v = reader.find(key);
    if (v && !v->is_boolean()) reader.fail(key, fmt::format("expected true or false, found {}", v->dump()));
    if (v && v->get<bool>()) reader.fail(key, "decoder configurations are not supported (expected false)");
  }

  reader.read("vocab_size", c.vocab_size);
  reader.read("hidden_size", c.hidden_size);
  // Without the key, transformers' ElectraConfig has its default 128; BertConfig has no such key (E = H).
  if (family.embedding_size_key)
    reader.read("embedding_size", c.embedding_size);
  else
    c.embedding_size = c.hidden_size;
  reader.read("num_hidden_layers", c.num_hidden_layers);
  reader.read("num_attention_heads", c.num_attention_heads);
  reader.read("intermediate_size", c.intermediate_size);
  reader.read("hidden_act", c.hidden_act);
  reader.read("max_position_embeddings", c.max_position_embeddings);
  reader.read("type_vocab_size", c.type_vocab_size);
  reader.read("layer_norm_eps", c.layer_norm_eps);
  reader.read("initializer_range", c.initializer_range);
  reader.read("hidden_dropout_prob", c.hidden_dropout_prob);
  reader.read("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  reader.read("classifier_dropout", c.classifier_dropout);
  if (const json* pad = reader.find("pad_token_id"); pad && pad->is_null())
    reader.fail("pad_token_id", "null is not supported (the embeddings need a padding row)");
  reader.read("pad_token_id", c.pad_token_id);
  reader.read("problem_type", c.problem_type, true);

  if (const json* archs = reader.find("architectures"); archs && !archs->is_null()) {
    if (!archs->is_array() || archs->size() != 1 || !(*archs)[0].is_string())
      reader.fail("architectures", fmt::format("expected a list with one class name, found {}", archs->dump()));
    try {
      c.architecture = family.parse_hf_class((*archs)[0].get<std::string>());
    } catch (const std::invalid_argument& e) {
      reader.fail("architectures", e.what());
    }
  }

  // Hugging Face: id2label wins; else num_labels; else two labels.
  std::optional<int64_t> num_labels;
  if (const json* n = reader.find("num_labels")) {
    if (!n->is_number_integer() || n->get<int64_t>() < 0)
      reader.fail("num_labels", fmt::format("expected a non-negative integer, found {}", n->dump()));
    num_labels = n->get<int64_t>();
    if (*num_labels > size_bound("num_labels"))
      reader.fail("num_labels", fmt::format("{} is {}", *num_labels, limits::above(size_bound("num_labels"))));
  }
  if (const json* node = reader.find("id2label"); node && !node->is_null()) {
    c.id2label = read_id2label(reader, node);
    if (num_labels && *num_labels != c.num_labels())
      reader.fail("num_labels", fmt::format("{} disagrees with the {} labels of id2label", *num_labels, c.num_labels()));
  } else {
    c.id2label = default_labels(num_labels.value_or(2));
  }

  c.raw_json = text;
  if (std::string error = c.validation_error(); !error.empty())
    throw std::runtime_error(fmt::format("{}: {}", source_name, error));
  return c;
}

std::string ElectraConfig::to_json_text() const {
  json root = json::object();
  if (!raw_json.empty()) {
    try {
      root = json::parse(raw_json);
    } catch (const json::parse_error&) {
      root = json::object();
    }
    if (!root.is_object()) root = json::object();
  }
  root.erase("num_labels");  // id2label carries it
  root["model_type"] = model_type;
  root["architectures"] = json::array({hf_class()});
  root["vocab_size"] = vocab_size;
  if (family().embedding_size_key) root["embedding_size"] = embedding_size;
  root["hidden_size"] = hidden_size;
  root["num_hidden_layers"] = num_hidden_layers;
  root["num_attention_heads"] = num_attention_heads;
  root["intermediate_size"] = intermediate_size;
  root["hidden_act"] = hidden_act;
  root["max_position_embeddings"] = max_position_embeddings;
  root["type_vocab_size"] = type_vocab_size;
  root["layer_norm_eps"] = layer_norm_eps;
  root["initializer_range"] = initializer_range;
  root["hidden_dropout_prob"] = hidden_dropout_prob;
  root["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  root["classifier_dropout"] = classifier_dropout ? json(*classifier_dropout) : json(nullptr);
  root["pad_token_id"] = pad_token_id;
  root["position_embedding_type"] = "absolute";
  json id2label_json = json::object(), label2id_json = json::object();
  for (size_t i = 0; i < id2label.size(); ++i) {
    id2label_json[std::to_string(i)] = id2label[i];
    label2id_json[id2label[i]] = static_cast<int64_t>(i);
  }
  root["id2label"] = id2label_json;
  root["label2id"] = label2id_json;
  if (architecture == Architecture::sequence_classification)
    root["problem_type"] = is_regression() ? "regression" : "single_label_classification";
  else if (!problem_type.empty())
    root["problem_type"] = problem_type;
  else
    root.erase("problem_type");
  // The weights are written as float32 whatever the checkpoint stored.
  if (root.contains("dtype")) root["dtype"] = "float32";
  if (root.contains("torch_dtype") || !root.contains("dtype")) root["torch_dtype"] = "float32";
  return root.dump(2) + "\n";
}

std::vector<std::string> preset_config_names() { return {"tiny", "small", "base"}; }

ElectraConfig preset_config(const std::string& name) {
  ElectraConfig c;  // the defaults are ELECTRA-small's
  if (name == "small") return c;
  if (name == "base") {
    c.embedding_size = c.hidden_size = 768;
    c.num_attention_heads = 12;
    c.intermediate_size = 3072;
    return c;
  }
  if (name == "tiny") {
    c.embedding_size = 64;
    c.hidden_size = 128;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.intermediate_size = 256;
    return c;
  }
  throw std::invalid_argument(fmt::format("unknown model size '{}' (known: {}, or a config.json file)", name,
                                          fmt::join(preset_config_names(), ", ")));
}

}  // namespace electra
