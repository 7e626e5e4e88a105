#include "pretrain/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <variant>

#include "common/files.h"

namespace electra {
namespace {

using FieldRef = std::variant<std::string*, int64_t*, double*, bool*, std::vector<std::string>*>;

// The one list of keys: YAML key = dotted struct path.
std::vector<std::pair<std::string, FieldRef>> fields(PretrainOptions& o) {
  return {
      {"vocab", &o.vocab},
      {"output_dir", &o.output_dir},
      {"device", &o.device},
      {"model.embedding_size", &o.model.embedding_size},
      {"model.hidden_size", &o.model.hidden_size},
      {"model.num_hidden_layers", &o.model.num_hidden_layers},
      {"model.num_attention_heads", &o.model.num_attention_heads},
      {"model.intermediate_size", &o.model.intermediate_size},
      {"model.max_position_embeddings", &o.model.max_position_embeddings},
      {"model.hidden_act", &o.model.hidden_act},
      {"model.hidden_dropout_prob", &o.model.hidden_dropout_prob},
      {"model.attention_probs_dropout_prob", &o.model.attention_probs_dropout_prob},
      {"model.initializer_range", &o.model.initializer_range},
      {"model.generator_size", &o.model.generator_size},
      {"objective.mask_prob", &o.objective.mask_prob},
      {"objective.max_predictions_per_seq", &o.objective.max_predictions_per_seq},
      {"objective.mask_token_prob", &o.objective.mask_token_prob},
      {"objective.disc_weight", &o.objective.disc_weight},
      {"data.corpus", &o.data.corpus},
      {"data.max_seq_length", &o.data.max_seq_length},
      {"data.document_format", &o.data.document_format},
      {"data.split_sentences", &o.data.split_sentences},
      {"data.short_seq_prob", &o.data.short_seq_prob},
      {"data.single_segment_prob", &o.data.single_segment_prob},
      {"data.shuffle_buffer", &o.data.shuffle_buffer},
      {"optimizer.learning_rate", &o.optimizer.learning_rate},
      {"optimizer.weight_decay", &o.optimizer.weight_decay},
      {"optimizer.adam_beta1", &o.optimizer.adam_beta1},
      {"optimizer.adam_beta2", &o.optimizer.adam_beta2},
      {"optimizer.adam_epsilon", &o.optimizer.adam_epsilon},
      {"optimizer.max_grad_norm", &o.optimizer.max_grad_norm},
      {"optimizer.fused", &o.optimizer.fused},
      {"schedule.name", &o.schedule.name},
      {"schedule.warmup_ratio", &o.schedule.warmup_ratio},
      {"schedule.warmup_steps", &o.schedule.warmup_steps},
      {"train.max_steps", &o.train.max_steps},
      {"train.batch_size", &o.train.batch_size},
      {"train.gradient_accumulation_steps", &o.train.gradient_accumulation_steps},
      {"train.save_every", &o.train.save_every},
      {"train.logging_every", &o.train.logging_every},
      {"train.seed", &o.train.seed},
  };
}

const std::set<std::string>& sections() {
  static const std::set<std::string> names{"model", "objective", "data", "optimizer", "schedule", "train"};
  return names;
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

[[noreturn]] void bad_value(const std::string& where, const std::string& key, const YAML::Node& node,
                            const std::string& expected) {
  throw std::invalid_argument(fmt::format("{}: key '{}' has value {}, expected {}", where, key, describe(node), expected));
}

template <typename T>
T parse_number(const std::string& where, const std::string& key, const YAML::Node& node, const char* what) {
  if (!node.IsScalar()) bad_value(where, key, node, what);
  const std::string& s = node.Scalar();
  size_t used = 0;
  T v{};
  try {
    if constexpr (std::is_same_v<T, double>) {
      v = std::stod(s, &used);
    } else {
      v = std::stoll(s, &used);
    }
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size()) bad_value(where, key, node, what);
  if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(v)) bad_value(where, key, node, what);
  }
  return v;
}

void assign(const std::string& where, const std::string& key, const FieldRef& field, const YAML::Node& node) {
  std::visit(
      [&](auto* target) {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!node.IsScalar()) bad_value(where, key, node, "a string");
          *target = node.Scalar();
        } else if constexpr (std::is_same_v<T, int64_t>) {
          *target = parse_number<int64_t>(where, key, node, "an integer");
        } else if constexpr (std::is_same_v<T, double>) {
          *target = parse_number<double>(where, key, node, "a number");
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!node.IsScalar()) bad_value(where, key, node, "true or false");
          const std::string& s = node.Scalar();
          if (s == "true" || s == "True") {
            *target = true;
          } else if (s == "false" || s == "False") {
            *target = false;
          } else {
            bad_value(where, key, node, "true or false");
          }
        } else {
          std::vector<std::string> values;
          if (node.IsScalar()) {
            if (!node.Scalar().empty()) values.push_back(node.Scalar());
          } else if (node.IsSequence()) {
            for (const auto& item : node) {
              if (!item.IsScalar()) bad_value(where, key, node, "a list of paths");
              values.push_back(item.Scalar());
            }
          } else {
            bad_value(where, key, node, "a path or a list of paths");
          }
          *target = values;
        }
      },
      field);
}

FieldRef find_field(PretrainOptions& o, const std::string& key, const std::string& where) {
  for (auto& [name, ref] : fields(o))
    if (name == key) return ref;
  throw std::invalid_argument(
      fmt::format("{}: unknown key '{}' (known: {})", where, key, fmt::join(pretrain_keys(), ", ")));
}

void apply_map(PretrainOptions& o, const YAML::Node& map, const std::string& prefix, const std::string& source) {
  std::map<std::string, int> first_line;
  for (const auto& item : map) {
    const std::string name = item.first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const int line = item.first.Mark().line + 1;
    const std::string where = fmt::format("{}:{}", source, line);
    if (auto [it, inserted] = first_line.emplace(name, line); !inserted)
      o.warnings.push_back(fmt::format("{}: key '{}' given twice (first at line {}); the later value is used", where,
                                       key, it->second));
    if (item.second.IsMap()) {
      if (!prefix.empty() || sections().count(name) == 0)
        throw std::invalid_argument(fmt::format("{}: unknown section '{}' (known: {})", where, key,
                                                fmt::join(sections(), ", ")));
      apply_map(o, item.second, key, source);
      continue;
    }
    assign(where, key, find_field(o, key, where), item.second);
  }
}

void emit_value(YAML::Emitter& out, const FieldRef& field) {
  std::visit(
      [&](auto* v) {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out << YAML::DoubleQuoted << *v;
        } else if constexpr (std::is_same_v<T, double>) {
          out << fmt::format("{}", *v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (const auto& s : *v) out << YAML::DoubleQuoted << s;
          out << YAML::EndSeq;
        } else {
          out << *v;
        }
      },
      field);
}

}  // namespace

std::vector<std::string> pretrain_keys() {
  PretrainOptions o;
  std::vector<std::string> keys;
  for (auto& [name, ref] : fields(o)) keys.push_back(name);
  return keys;
}

void apply_pretrain_setting(PretrainOptions& options, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument(fmt::format("--set: expected key=value, got '{}'", assignment));
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(fmt::format("--set: value of '{}' is not valid YAML: {}", key, e.msg));
  }
  if (value.IsNull()) value = YAML::Node(std::string());
  assign("--set", key, find_field(options, key, "--set"), value);
}

PretrainOptions load_pretrain_options(const std::filesystem::path& file, const std::vector<std::string>& sets) {
  PretrainOptions options;
  if (!file.empty()) {
    if (!std::filesystem::is_regular_file(file))
      throw std::invalid_argument(fmt::format("config file {} does not exist", file.string()));
    YAML::Node root;
    try {
      root = YAML::Load(read_file(file));
    } catch (const YAML::Exception& e) {
      throw std::runtime_error(fmt::format("{}:{}: invalid YAML: {}", file.string(), e.mark.line + 1, e.msg));
    }
    if (!root.IsNull()) {
      if (!root.IsMap()) throw std::invalid_argument(fmt::format("{}: expected a mapping of keys", file.string()));
      apply_map(options, root, "", file.string());
    }
  }
  for (const auto& s : sets) apply_pretrain_setting(options, s);
  return options;
}

void validate_pretrain_options(const PretrainOptions& o) {
  auto fail = [](const std::string& key, const auto& value, const std::string& rule) {
    throw std::invalid_argument(fmt::format("key '{}' has value {}: {}", key, value, rule));
  };
  if (o.device != "cpu" && o.device != "cuda" && o.device != "auto") fail("device", o.device, "use cpu, cuda or auto");
  if (o.model.generator_size <= 0 || o.model.generator_size > 1)
    fail("model.generator_size", o.model.generator_size, "must be in (0, 1]");
  if (o.objective.mask_prob <= 0 || o.objective.mask_prob >= 1)
    fail("objective.mask_prob", o.objective.mask_prob, "must be in (0, 1)");
  if (o.objective.mask_token_prob < 0 || o.objective.mask_token_prob > 1)
    fail("objective.mask_token_prob", o.objective.mask_token_prob, "must be in [0, 1]");
  if (o.objective.max_predictions_per_seq < 0)
    fail("objective.max_predictions_per_seq", o.objective.max_predictions_per_seq, "must not be negative");
  if (o.objective.disc_weight < 0) fail("objective.disc_weight", o.objective.disc_weight, "must not be negative");
  if (o.data.max_seq_length < 8) fail("data.max_seq_length", o.data.max_seq_length, "must be at least 8");
  if (o.data.max_seq_length > o.model.max_position_embeddings)
    fail("data.max_seq_length", o.data.max_seq_length, "must not exceed model.max_position_embeddings");
  if (o.data.document_format != "blank_line" && o.data.document_format != "line")
    fail("data.document_format", o.data.document_format, "use blank_line or line");
  if (o.optimizer.learning_rate <= 0) fail("optimizer.learning_rate", o.optimizer.learning_rate, "must be positive");
  if (o.optimizer.adam_epsilon <= 0) fail("optimizer.adam_epsilon", o.optimizer.adam_epsilon, "must be positive");
  if (o.schedule.name != "linear" && o.schedule.name != "constant" && o.schedule.name != "cosine")
    fail("schedule.name", o.schedule.name, "use linear, constant or cosine");
  if (o.schedule.warmup_steps < 0) fail("schedule.warmup_steps", o.schedule.warmup_steps, "must not be negative");
  if (o.train.max_steps < 1) fail("train.max_steps", o.train.max_steps, "must be positive");
  if (o.train.batch_size < 1) fail("train.batch_size", o.train.batch_size, "must be positive");
  if (o.train.gradient_accumulation_steps < 1)
    fail("train.gradient_accumulation_steps", o.train.gradient_accumulation_steps, "must be positive");
  if (o.train.save_every < 1) fail("train.save_every", o.train.save_every, "must be positive");
  if (o.train.logging_every < 1) fail("train.logging_every", o.train.logging_every, "must be positive");
  if (o.train.seed < 0) fail("train.seed", o.train.seed, "must not be negative");
}

std::string to_yaml(const PretrainOptions& options) {
  PretrainOptions copy = options;
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (auto& [key, ref] : fields(copy)) {
    const auto dot = key.find('.');
    const std::string this_section = dot == std::string::npos ? "" : key.substr(0, dot);
    if (this_section != section) {
      if (!section.empty()) out << YAML::EndMap;
      if (!this_section.empty()) out << YAML::Key << this_section << YAML::Value << YAML::BeginMap;
      section = this_section;
    }
    out << YAML::Key << (dot == std::string::npos ? key : key.substr(dot + 1)) << YAML::Value;
    emit_value(out, ref);
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

ElectraConfig discriminator_config(const PretrainOptions& o, int64_t vocab_size, int64_t pad_token_id) {
  ElectraConfig c;
  c.vocab_size = vocab_size;
  c.embedding_size = o.model.embedding_size;
  c.hidden_size = o.model.hidden_size;
  c.num_hidden_layers = o.model.num_hidden_layers;
  c.num_attention_heads = o.model.num_attention_heads;
  c.intermediate_size = o.model.intermediate_size;
  c.max_position_embeddings = o.model.max_position_embeddings;
  c.hidden_act = o.model.hidden_act;
  c.hidden_dropout_prob = o.model.hidden_dropout_prob;
  c.attention_probs_dropout_prob = o.model.attention_probs_dropout_prob;
  c.initializer_range = o.model.initializer_range;
  c.pad_token_id = pad_token_id;
  c.architecture = Architecture::pretraining;
  if (const std::string error = c.validation_error(); !error.empty())
    throw std::invalid_argument("pre-training model: " + error);
  return c;
}

ElectraConfig generator_config(const ElectraConfig& discriminator, double generator_size) {
  ElectraConfig g = discriminator;
  g.hidden_size = std::max<int64_t>(1, std::llround(static_cast<double>(discriminator.hidden_size) * generator_size));
  g.num_attention_heads = std::max<int64_t>(1, g.hidden_size / 64);
  g.intermediate_size = 4 * g.hidden_size;
  g.architecture = Architecture::masked_lm;
  g.raw_json.clear();
  if (const std::string error = g.validation_error(); !error.empty())
    throw std::invalid_argument(fmt::format("generator of size {}: {}", generator_size, error));
  return g;
}

int64_t max_predictions_per_seq(const PretrainOptions& o) {
  if (o.objective.max_predictions_per_seq > 0) return o.objective.max_predictions_per_seq;
  return static_cast<int64_t>((o.objective.mask_prob + 0.005) * static_cast<double>(o.data.max_seq_length));
}

}  // namespace electra
