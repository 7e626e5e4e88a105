#include "common/yaml_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "common/files.h"

namespace electra {

YAML::Node load_yaml_file(const std::filesystem::path& file) {
  const std::string text = read_file(file);
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(fmt::format("{}:{}: invalid YAML: {}", file.string(), e.mark.line + 1, e.msg));
  }
}

std::string yaml_location(const std::string& source, const YAML::Node& node) {
  return node.Mark().is_null() ? source : fmt::format("{}:{}", source, node.Mark().line + 1);
}

std::string describe_yaml(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

void YamlReader::fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
  const std::string where = yaml_location(file_.string(), node);
  if (key.empty()) throw std::invalid_argument(fmt::format("{}: {}", where, what));
  throw std::invalid_argument(fmt::format("{}: key '{}': {}", where, key, what));
}

void YamlReader::check_keys(const YAML::Node& map, const std::string& where,
                            const std::set<std::string>& known) const {
  if (!map.IsMap()) fail(map, where, "expected a mapping");
  for (const auto& item : map) {
    const auto key = item.first.as<std::string>();
    if (!known.count(key))
      fail(item.first, join(where, key), fmt::format("unknown key (known: {})", fmt::join(known, ", ")));
  }
}

YAML::Node YamlReader::require(const YAML::Node& map, const std::string& where, const std::string& key) const {
  const auto node = map[key];
  if (!node) fail(map, join(where, key), "missing");
  return node;
}

std::string YamlReader::string_at(const YAML::Node& node, const std::string& key) const {
  if (!node.IsScalar()) fail(node, key, "expected a string");
  const std::string& text = node.Scalar();
  if (text.empty()) fail(node, key, "expected a non-empty string");
  return text;
}

std::string YamlReader::optional_string(const YAML::Node& map, const std::string& where,
                                        const std::string& key) const {
  const auto node = map[key];
  return node ? string_at(node, join(where, key)) : std::string();
}

std::vector<std::string> YamlReader::strings_at(const YAML::Node& node, const std::string& key,
                                                const std::string& expected) const {
  if (!node.IsSequence()) fail(node, key, "expected " + expected);
  std::vector<std::string> values;
  for (size_t i = 0; i < node.size(); ++i) values.push_back(string_at(node[i], fmt::format("{}[{}]", key, i)));
  return values;
}

std::vector<int> YamlReader::ints_at(const YAML::Node& node, const std::string& key,
                                     const std::string& expected) const {
  if (!node.IsSequence()) fail(node, key, "expected " + expected);
  std::vector<int> values;
  for (size_t i = 0; i < node.size(); ++i) {
    int value = 0;
    if (!node[i].IsScalar() || !YAML::convert<int>::decode(node[i], value))
      fail(node[i], fmt::format("{}[{}]", key, i), fmt::format("expected an integer, got {}", describe_yaml(node[i])));
    values.push_back(value);
  }
  return values;
}

}  // namespace electra
