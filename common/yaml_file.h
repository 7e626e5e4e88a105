// Reading YAML files with errors that name the file, the line and the key: one loader for every YAML file the
// suite reads, and checked, typed access to the nodes of a hand-written table (configs/*.yaml).
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace YAML {
class Node;
}

namespace electra {

// FILE parsed as YAML (an empty file is a null node). Throws std::runtime_error for a bad file:
// "cannot read FILE: REASON" when it cannot be read, "FILE:LINE: invalid YAML: MESSAGE" when it does not parse.
YAML::Node load_yaml_file(const std::filesystem::path& file);

// "SOURCE:LINE" for a node read from a file, SOURCE alone for a node without a position.
std::string yaml_location(const std::string& source, const YAML::Node& node);

// A node shown in an error message: a scalar quoted ('many'), anything else in flow style ({a: 1}).
std::string describe_yaml(const YAML::Node& node);

// Checks on the nodes of one file. `key` is a node's dotted path from the root (columns[0].split), `where` that of
// the mapping it is looked up in ("" for the root). Every failure throws std::invalid_argument
// "FILE:LINE: key 'KEY': WHAT".
class YamlReader {
 public:
  explicit YamlReader(std::filesystem::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const;
  // `map` is a mapping and every key of it is in `known`.
  void check_keys(const YAML::Node& map, const std::string& where, const std::set<std::string>& known) const;
  // map[key], which must be there.
  YAML::Node require(const YAML::Node& map, const std::string& where, const std::string& key) const;
  // A non-empty string.
  std::string string_at(const YAML::Node& node, const std::string& key) const;
  // map[key] as string_at, or "" when the key is absent.
  std::string optional_string(const YAML::Node& map, const std::string& where, const std::string& key) const;
  // A list of non-empty strings; `expected` names it in the error ("a list of task names").
  std::vector<std::string> strings_at(const YAML::Node& node, const std::string& key,
                                      const std::string& expected) const;
  // A list of integers; `expected` names it in the error.
  std::vector<int> ints_at(const YAML::Node& node, const std::string& key, const std::string& expected) const;

  // "where.key", or "key" at the root.
  static std::string join(const std::string& where, const std::string& key) {
    return where.empty() ? key : where + "." + key;
  }

 private:
  std::filesystem::path file_;
};

}  // namespace electra
