#include "common/option_fields.h"

#include "common/decimal.h"
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "common/decimal.h"
#include "common/yaml_file.h"

namespace electra {
namespace {

using Field = std::pair<std::string, FieldRef>;

// The fields in the order YAML holds them: the top-level keys, then each section's (in table.sections' order), each
// group in table order.
std::vector<const Field*> yaml_order(const FieldTable& table) {
  std::vector<const Field*> ordered;
  for (const Field& field : table.fields)
    if (field.first.find('.') == std::string::npos) ordered.push_back(&field);
  for (const std::string& section : table.sections)
    for (const Field& field : table.fields)
      if (field.first.rfind(section + ".", 0) == 0) ordered.push_back(&field);
  return ordered;
}

template <typename T>
T parse_number(const std::string& source, const std::string& key, const YAML::Node& node, const char* expected) {
  if (!node.IsScalar()) bad_option_value(source, key, node, expected);
  const std::string& s = node.Scalar();
  size_t used = 0;
  T v{};
  try {
    if constexpr (std::is_same_v<T, double>) {
      const auto parsed = parse_decimal(s);  // no hexadecimal floats, inf or nan
      if (parsed) {
        v = *parsed;
        used = s.size();
      }
    } else {
      v = std::stoll(s, &used);
    }
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size()) bad_option_value(source, key, node, expected);
  if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(v)) bad_option_value(source, key, node, expected);
  }
  return v;
}

void assign(const std::string& source, const std::string& key, const FieldRef& field, const YAML::Node& node) {
  std::visit(
      [&](auto target) {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, IntOrAuto>) {
          if (node.IsScalar() && node.Scalar() == "auto") {
            *target.is_auto = true;
          } else {
            const auto v = parse_number<int64_t>(source, key, node, "a positive integer or auto");
            if (v < 1) bad_option_value(source, key, node, "a positive integer or auto");
            if (!target.shorthand) *target.is_auto = false;
            *target.value = v;
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!node.IsScalar()) bad_option_value(source, key, node, "a string");
          *target = node.Scalar();
        } else if constexpr (std::is_same_v<T, int64_t>) {
          *target = parse_number<int64_t>(source, key, node, "an integer");
        } else if constexpr (std::is_same_v<T, double>) {
          *target = parse_number<double>(source, key, node, "a number");
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!node.IsScalar()) bad_option_value(source, key, node, "true or false");
          const std::string& s = node.Scalar();
          if (s == "true" || s == "True") {
            *target = true;
          } else if (s == "false" || s == "False") {
            *target = false;
          } else {
            bad_option_value(source, key, node, "true or false");
          }
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          std::vector<int64_t> values;
          if (node.IsScalar()) {
            values.push_back(parse_number<int64_t>(source, key, node, "an integer"));
          } else if (node.IsSequence()) {
            for (const auto& item : node) values.push_back(parse_number<int64_t>(source, key, item, "an integer"));
          } else {
            bad_option_value(source, key, node, "an integer or a list of integers");
          }
          if (values.empty()) bad_option_value(source, key, node, "at least one integer");
          *target = values;
        } else {
          std::vector<std::string> values;
          if (node.IsScalar()) {
            if (!node.Scalar().empty()) values.push_back(node.Scalar());
          } else if (node.IsSequence()) {
            for (const auto& item : node) {
              if (!item.IsScalar()) bad_option_value(source, key, node, "a list of strings");
              values.push_back(item.Scalar());
            }
          } else {
            bad_option_value(source, key, node, "a string or a list of strings");
          }
          *target = values;
        }
      },
      field);
}

const FieldRef& find_field(const FieldTable& table, const std::string& key, const std::string& where) {
  for (const auto& [name, ref] : table.fields)
    if (name == key) return ref;
  throw std::invalid_argument(
      fmt::format("{}: unknown key '{}' (known: {})", where, key, fmt::join(field_keys(table), ", ")));
}

void apply_map(const FieldTable& table, const YAML::Node& map, const std::string& prefix, const std::string& source,
               std::vector<std::string>& warnings) {
  std::map<std::string, int> first_line;
  for (const auto& item : map) {
    const std::string name = item.first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const int line = item.first.Mark().line + 1;
    if (auto [it, inserted] = first_line.emplace(name, line); !inserted) {
      warnings.push_back(
          item.second.IsMap()
              ? fmt::format("{}:{}: section '{}' given twice (first at line {}); their keys are merged, later ones win",
                            source, line, key, it->second)
              : fmt::format("{}:{}: key '{}' given twice (first at line {}); the value of line {} is used", source,
                            line, key, it->second, line));
    }
    if (prefix.empty() && table.skipped_top_keys.count(name) != 0) continue;
    if (item.second.IsMap()) {
      if (!prefix.empty() || std::find(table.sections.begin(), table.sections.end(), name) == table.sections.end())
        throw std::invalid_argument(fmt::format("{}:{}: unknown section '{}' (known: {})", source, line, key,
                                                fmt::join(table.sections, ", ")));
      apply_map(table, item.second, key, source, warnings);
      continue;
    }
    assign(source, key, find_field(table, key, fmt::format("{}:{}", source, line)), item.second);
  }
}

void emit_value(YAML::Emitter& out, const FieldRef& field) {
  std::visit(
      [&](auto v) {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, IntOrAuto>) {
          if (*v.is_auto && !v.shorthand) {
            out << "auto";
          } else {
            out << *v.value;
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          out << YAML::DoubleQuoted << *v;
        } else if constexpr (std::is_same_v<T, double>) {
          out << fmt::format("{}", *v);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          out << YAML::Flow << *v;
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

void bad_option_value(const std::string& source, const std::string& key, const YAML::Node& node,
                      const std::string& expected) {
  const std::string where = source == "--set" ? source : yaml_location(source, node);
  throw std::invalid_argument(
      fmt::format("{}: key '{}' has value {}, expected {}", where, key, describe_yaml(node), expected));
}

std::vector<std::string> field_keys(const FieldTable& table) {
  std::vector<std::string> keys;
  for (const Field* field : yaml_order(table)) keys.push_back(field->first);
  return keys;
}

YAML::Node load_yaml_mapping(const std::filesystem::path& file) {
  const YAML::Node root = load_yaml_file(file);
  if (!root.IsNull() && !root.IsMap())
    throw std::invalid_argument(fmt::format("{}: expected a mapping of keys", file.string()));
  return root;
}

void apply_yaml_mapping(const FieldTable& table, const YAML::Node& map, const std::string& source,
                        std::vector<std::string>& warnings) {
  if (map.IsNull()) return;
  apply_map(table, map, "", source, warnings);
}

void apply_assignment(const FieldTable& table, const std::string& assignment) {
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
  assign("--set", key, find_field(table, key, "--set"), value);
}

std::string fields_to_yaml(const FieldTable& table) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (const Field* field : yaml_order(table)) {
    const std::string& key = field->first;
    const auto dot = key.find('.');
    const std::string this_section = dot == std::string::npos ? "" : key.substr(0, dot);
    if (this_section != section) {
      if (!section.empty()) out << YAML::EndMap;
      if (!this_section.empty()) out << YAML::Key << this_section << YAML::Value << YAML::BeginMap;
      section = this_section;
    }
    out << YAML::Key << (dot == std::string::npos ? key : key.substr(dot + 1)) << YAML::Value;
    emit_value(out, field->second);
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace electra
