#include "train/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <variant>

#include "common/files.h"

namespace electra {
namespace {

using FieldRef = std::variant<std::string*, int64_t*, double*, bool*, std::vector<int64_t>*>;

// The one list of keys: YAML key = dotted struct path.
std::vector<std::pair<std::string, FieldRef>> fields(ExperimentOptions& o) {
  return {
      {"model", &o.model},
      {"task", &o.task},
      {"output_dir", &o.output_dir},
      {"seeds", &o.seeds},
      {"device", &o.device},
      {"data.data_dir", &o.data.data_dir},
      {"data.max_seq_length", &o.data.max_seq_length},
      {"data.doc_stride", &o.data.doc_stride},
      {"data.max_query_length", &o.data.max_query_length},
      {"data.dev_from_train", &o.data.dev_from_train},
      {"data.swap_pairs", &o.data.swap_pairs},
      {"data.skip_bad_rows", &o.data.skip_bad_rows},
      {"data.bucket_multiple", &o.data.bucket_multiple},
      {"optimizer.learning_rate", &o.optimizer.learning_rate},
      {"optimizer.weight_decay", &o.optimizer.weight_decay},
      {"optimizer.adam_beta1", &o.optimizer.adam_beta1},
      {"optimizer.adam_beta2", &o.optimizer.adam_beta2},
      {"optimizer.adam_epsilon", &o.optimizer.adam_epsilon},
      {"optimizer.max_grad_norm", &o.optimizer.max_grad_norm},
      {"optimizer.layerwise_lr_decay", &o.optimizer.layerwise_lr_decay},
      {"optimizer.fused", &o.optimizer.fused},
      {"schedule.name", &o.schedule.name},
      {"schedule.warmup_ratio", &o.schedule.warmup_ratio},
      {"schedule.warmup_steps", &o.schedule.warmup_steps},
      {"train.epochs", &o.train.epochs},
      {"train.max_steps", &o.train.max_steps},
      {"train.batch_size", &o.train.batch_size},
      {"train.gradient_accumulation_steps", &o.train.gradient_accumulation_steps},
      {"train.eval_batch_size", &o.train.eval_batch_size},
      {"train.eval_every", &o.train.eval_every},
      {"train.eval_each_epoch", &o.train.eval_each_epoch},
      {"train.select_best", &o.train.select_best},
      {"train.save_every", &o.train.save_every},
      {"train.logging_every", &o.train.logging_every},
      {"train.early_stopping_patience", &o.train.early_stopping_patience},
      {"train.bf16", &o.train.bf16},
      {"train.tf32", &o.train.tf32},
  };
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

[[noreturn]] void bad_value(const std::string& source, const std::string& key, const YAML::Node& node,
                            const std::string& expected) {
  const std::string where = node.Mark().is_null() || source == "--set"
                                ? source
                                : fmt::format("{}:{}", source, node.Mark().line + 1);
  throw std::invalid_argument(
      fmt::format("{}: key '{}' has value {}, expected {}", where, key, describe(node), expected));
}

int64_t to_int(const std::string& source, const std::string& key, const YAML::Node& node) {
  if (!node.IsScalar()) bad_value(source, key, node, "an integer");
  const std::string& s = node.Scalar();
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size()) bad_value(source, key, node, "an integer");
  return v;
}

void assign(const std::string& source, const std::string& key, const FieldRef& field, const YAML::Node& node) {
  std::visit(
      [&](auto* target) {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!node.IsScalar()) bad_value(source, key, node, "a string");
          *target = node.Scalar();
        } else if constexpr (std::is_same_v<T, int64_t>) {
          *target = to_int(source, key, node);
        } else if constexpr (std::is_same_v<T, double>) {
          if (!node.IsScalar()) bad_value(source, key, node, "a number");
          const std::string& s = node.Scalar();
          size_t used = 0;
          double v = 0;
          try {
            v = std::stod(s, &used);
          } catch (const std::exception&) {
            used = 0;
          }
          if (used == 0 || used != s.size() || !std::isfinite(v)) bad_value(source, key, node, "a number");
          *target = v;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!node.IsScalar()) bad_value(source, key, node, "true or false");
          const std::string& s = node.Scalar();
          if (s == "true" || s == "True") {
            *target = true;
          } else if (s == "false" || s == "False") {
            *target = false;
          } else {
            bad_value(source, key, node, "true or false");
          }
        } else {
          std::vector<int64_t> values;
          if (node.IsScalar()) {
            values.push_back(to_int(source, key, node));
          } else if (node.IsSequence()) {
            for (const auto& item : node) values.push_back(to_int(source, key, item));
          } else {
            bad_value(source, key, node, "an integer or a list of integers");
          }
          if (values.empty()) bad_value(source, key, node, "at least one seed");
          *target = values;
        }
      },
      field);
}

FieldRef find_field(ExperimentOptions& o, const std::string& key, const std::string& source) {
  for (auto& [name, ref] : fields(o)) {
    if (name == key) return ref;
  }
  throw std::invalid_argument(fmt::format("{}: unknown key '{}' (known: {})", source, key,
                                          fmt::join(experiment_keys(), ", ")));
}

// Applies a mapping node (possibly nested sections) under `prefix`.
// A key given twice in one mapping (YAML wants them unique; yaml-cpp keeps both) is applied in order, with a
// warning: sections merge key by key, and a value given twice keeps the later one.
void apply_map(ExperimentOptions& o, const YAML::Node& map, const std::string& prefix, const std::string& source) {
  std::map<std::string, int> first_line;
  for (const auto& item : map) {
    const std::string name = item.first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const int line = item.first.Mark().line + 1;
    if (auto [it, inserted] = first_line.emplace(name, line); !inserted) {
      o.warnings.push_back(
          item.second.IsMap()
              ? fmt::format("{}:{}: section '{}' given twice (first at line {}); their keys are merged, later ones win",
                            source, line, key, it->second)
              : fmt::format("{}:{}: key '{}' given twice (first at line {}); the value of line {} is used", source,
                            line, key, it->second, line));
    }
    if (prefix.empty() && name == "base") continue;
    if (item.second.IsMap()) {
      static const std::set<std::string> sections{"data", "optimizer", "schedule", "train"};
      if (!prefix.empty() || sections.count(name) == 0) {
        throw std::invalid_argument(fmt::format("{}:{}: unknown section '{}' (known: data, optimizer, schedule, train)",
                                                source, item.first.Mark().line + 1, key));
      }
      apply_map(o, item.second, key, source);
      continue;
    }
    const std::string where = fmt::format("{}:{}", source, item.first.Mark().line + 1);
    assign(source, key, find_field(o, key, where), item.second);
  }
}

void load_file(ExperimentOptions& o, const std::filesystem::path& file, std::vector<std::filesystem::path>& chain) {
  const auto canonical = std::filesystem::weakly_canonical(file);
  for (const auto& seen : chain) {
    if (seen == canonical) throw std::invalid_argument(fmt::format("{}: `base:` files form a cycle", file.string()));
  }
  chain.push_back(canonical);
  YAML::Node root;
  try {
    root = YAML::Load(read_file(file));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(fmt::format("{}:{}: invalid YAML: {}", file.string(), e.mark.line + 1, e.msg));
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw std::invalid_argument(fmt::format("{}: expected a mapping of keys", file.string()));
  if (const auto base = root["base"]) {
    if (!base.IsScalar()) bad_value(file.string(), "base", base, "a file path");
    load_file(o, file.parent_path() / base.Scalar(), chain);
  }
  apply_map(o, root, "", file.string());
}

void emit_value(YAML::Emitter& out, const FieldRef& field) {
  std::visit(
      [&](auto* v) {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out << YAML::DoubleQuoted << *v;
        } else if constexpr (std::is_same_v<T, double>) {
          out << fmt::format("{}", *v);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          out << YAML::Flow << *v;
        } else {
          out << *v;
        }
      },
      field);
}

}  // namespace

std::vector<std::string> experiment_keys() {
  ExperimentOptions o;
  std::vector<std::string> keys;
  for (auto& [name, ref] : fields(o)) keys.push_back(name);
  return keys;
}

void apply_setting(ExperimentOptions& options, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw std::invalid_argument(fmt::format("--set: expected key=value, got '{}'", assignment));
  }
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

void validate(const ExperimentOptions& o) {
  auto fail = [](const std::string& key, const auto& value, const std::string& rule) {
    throw std::invalid_argument(fmt::format("key '{}' has value {}: {}", key, value, rule));
  };
  if (o.model.empty()) fail("model", "''", "name a model directory or hub id (--model)");
  if (o.task.empty()) fail("task", "''", "name a task");
  if (o.device != "cpu" && o.device != "cuda" && o.device != "auto") fail("device", o.device, "use cpu, cuda or auto");
  if (o.data.max_seq_length < 8) fail("data.max_seq_length", o.data.max_seq_length, "must be at least 8");
  if (o.data.doc_stride < 1) fail("data.doc_stride", o.data.doc_stride, "must be positive");
  if (o.data.max_query_length < 1) fail("data.max_query_length", o.data.max_query_length, "must be positive");
  if (o.data.dev_from_train < 0 || o.data.dev_from_train >= 1)
    fail("data.dev_from_train", o.data.dev_from_train, "must be in [0, 1)");
  if (o.data.bucket_multiple < 1) fail("data.bucket_multiple", o.data.bucket_multiple, "must be positive");
  if (o.optimizer.learning_rate <= 0) fail("optimizer.learning_rate", o.optimizer.learning_rate, "must be > 0");
  if (o.optimizer.weight_decay < 0) fail("optimizer.weight_decay", o.optimizer.weight_decay, "must be >= 0");
  if (o.optimizer.adam_beta1 < 0 || o.optimizer.adam_beta1 >= 1)
    fail("optimizer.adam_beta1", o.optimizer.adam_beta1, "must be in [0, 1)");
  if (o.optimizer.adam_beta2 < 0 || o.optimizer.adam_beta2 >= 1)
    fail("optimizer.adam_beta2", o.optimizer.adam_beta2, "must be in [0, 1)");
  if (o.optimizer.adam_epsilon <= 0) fail("optimizer.adam_epsilon", o.optimizer.adam_epsilon, "must be > 0");
  if (o.optimizer.layerwise_lr_decay <= 0 || o.optimizer.layerwise_lr_decay > 1)
    fail("optimizer.layerwise_lr_decay", o.optimizer.layerwise_lr_decay, "must be in (0, 1]");
  if (o.schedule.name != "linear" && o.schedule.name != "constant" && o.schedule.name != "cosine")
    fail("schedule.name", o.schedule.name, "use linear, constant or cosine");
  if (o.schedule.warmup_ratio < 0 || o.schedule.warmup_ratio > 1)
    fail("schedule.warmup_ratio", o.schedule.warmup_ratio, "must be in [0, 1]");
  if (o.schedule.warmup_steps < 0) fail("schedule.warmup_steps", o.schedule.warmup_steps, "must be >= 0");
  if (o.train.epochs <= 0 && o.train.max_steps <= 0) fail("train.epochs", o.train.epochs, "must be > 0");
  if (o.train.max_steps < 0) fail("train.max_steps", o.train.max_steps, "must be >= 0");
  if (o.train.batch_size < 1) fail("train.batch_size", o.train.batch_size, "must be positive");
  if (o.train.gradient_accumulation_steps < 1 || o.train.batch_size % o.train.gradient_accumulation_steps != 0)
    fail("train.gradient_accumulation_steps", o.train.gradient_accumulation_steps,
         fmt::format("must be positive and divide train.batch_size ({})", o.train.batch_size));
  if (o.train.eval_batch_size < 1) fail("train.eval_batch_size", o.train.eval_batch_size, "must be positive");
  if (o.train.eval_every < 0) fail("train.eval_every", o.train.eval_every, "must be >= 0");
  if (o.train.save_every < 0) fail("train.save_every", o.train.save_every, "must be >= 0");
  if (o.train.logging_every < 1) fail("train.logging_every", o.train.logging_every, "must be positive");
  if (o.train.early_stopping_patience < 0)
    fail("train.early_stopping_patience", o.train.early_stopping_patience, "must be >= 0");
}

ExperimentOptions load_experiment(const std::filesystem::path& file, const std::vector<std::string>& sets) {
  ExperimentOptions options;
  std::vector<std::filesystem::path> chain;
  load_file(options, file, chain);
  for (const auto& s : sets) apply_setting(options, s);
  return options;
}

std::string to_yaml(const ExperimentOptions& options) {
  ExperimentOptions copy = options;
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

}  // namespace electra
