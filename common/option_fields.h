// Typed option structs bound to YAML through one table of (dotted key, field pointer) pairs: reading a mapping with
// sections, `--set key=value` assignments, and writing every key back. The options of fine-tuning
// (train/options) and of pre-training (pretrain/options) keep only their table and their range checks.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace YAML {
class Node;
}

namespace electra {

// An integer field that also takes `auto`. `auto` sets *is_auto and leaves *value as it was (so that the field's
// other uses and range checks still see a number). A positive integer sets *value; unless `shorthand`, it also
// clears *is_auto, and the field is written back as `auto` while *is_auto holds. A `shorthand` field is always
// written as its number: its `auto` stands for another field's (train.batch_size: auto keeps the batch size and
// sets train.gradient_accumulation_steps to auto).
struct IntOrAuto {
  int64_t* value;
  bool* is_auto;
  bool shorthand = false;
};

// A field of an option struct. vector<int64_t>: one integer or a non-empty list; vector<string>: one string (empty:
// none) or a list.
using FieldRef = std::variant<std::string*, int64_t*, double*, bool*, std::vector<int64_t>*,
                              std::vector<std::string>*, IntOrAuto>;

struct FieldTable {
  std::vector<std::pair<std::string, FieldRef>> fields;  // YAML key = dotted struct path
  std::vector<std::string> sections;                     // the top-level mappings, in the order written
  std::set<std::string> skipped_top_keys;                // top-level keys its owner reads itself (`base:`)
};

// Every key, in the order fields_to_yaml() writes them.
std::vector<std::string> field_keys(const FieldTable& table);

// FILE parsed as YAML (load_yaml_file): a mapping, or a null node for an empty file. Throws std::runtime_error for
// a file that is missing or not valid YAML, std::invalid_argument naming the file for one that is not a mapping.
YAML::Node load_yaml_mapping(const std::filesystem::path& file);

// Applies a mapping read from `source`. A key or section given twice is applied in order with a warning appended
// to `warnings` (sections merge key by key; the later value wins). Unknown keys and sections, and values of the
// wrong type, throw std::invalid_argument naming source:line, the dotted key and the value.
void apply_yaml_mapping(const FieldTable& table, const YAML::Node& map, const std::string& source,
                        std::vector<std::string>& warnings);

// `key=value`, the value read as YAML (`--set`). Throws std::invalid_argument naming "--set" and the key.
void apply_assignment(const FieldTable& table, const std::string& assignment);

// Every field as YAML: the top-level keys, then each section's keys nested (sections in table.sections' order,
// keys in table order); applying it to defaults gives the same values.
std::string fields_to_yaml(const FieldTable& table);

// Throws std::invalid_argument: "SOURCE[:LINE]: key 'KEY' has value V, expected EXPECTED".
[[noreturn]] void bad_option_value(const std::string& source, const std::string& key, const YAML::Node& node,
                                   const std::string& expected);

// Throws std::invalid_argument: "key 'KEY' has value V: RULE", for a value its key's range check refuses.
template <typename T>
[[noreturn]] void bad_option_range(const std::string& key, const T& value, const std::string& rule) {
  throw std::invalid_argument(fmt::format("key '{}' has value {}: {}", key, value, rule));
}

}  // namespace electra
