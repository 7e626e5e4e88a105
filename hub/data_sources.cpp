#include "hub/data_sources.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "common/yaml_file.h"
#include "common/sha256.h"
#include "common/source_dir.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

bool safe_relative(const std::string& path) {
  if (path.empty() || path[0] == '/' || path.find('\\') != std::string::npos) return false;
  for (const auto& part : fs::path(path)) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

// A file's `split_by_ids` rule; `in` is its path.
SplitByIds read_split(const YamlReader& yaml, const YAML::Node& split, const std::string& in) {
  yaml.check_keys(split, in, {"ids_url", "keep", "id_columns"});
  SplitByIds rule;
  rule.ids_url = yaml.string_at(yaml.require(split, in, "ids_url"), in + ".ids_url");
  const YAML::Node keep = yaml.require(split, in, "keep");
  const std::string keep_text = yaml.string_at(keep, in + ".keep");
  if (keep_text != "listed" && keep_text != "unlisted") {
    yaml.fail(keep, in + ".keep", fmt::format("must be 'listed' or 'unlisted', not '{}'", keep_text));
  }
  rule.keep_listed = keep_text == "listed";
  rule.id_columns = yaml.ints_at(yaml.require(split, in, "id_columns"), in + ".id_columns",
                                 "a list of 0-based column indices");
  return rule;
}

// One entry of a task's `files` list; `at` is its path ("tasks.mrpc.files[0]").
FileSource read_file_source(const YamlReader& yaml, const YAML::Node& entry, const std::string& at) {
  yaml.check_keys(entry, at, {"name", "url", "member", "sha256", "split_by_ids", "note"});
  FileSource source;
  source.name = yaml.string_at(yaml.require(entry, at, "name"), at + ".name");
  source.url = yaml.string_at(yaml.require(entry, at, "url"), at + ".url");
  if (source.name.find('/') != std::string::npos || !safe_relative(source.name)) {
    yaml.fail(entry["name"], at + ".name", fmt::format("file name '{}' must be a plain file name", source.name));
  }
  source.member = yaml.optional_string(entry, at, "member");
  if (!source.member.empty() && !safe_relative(source.member)) {
    yaml.fail(entry["member"], at + ".member",
              fmt::format("archive member '{}' must be a relative path without '..'", source.member));
  }
  source.sha256 = yaml.optional_string(entry, at, "sha256");
  if (!source.sha256.empty() && !is_sha256_hex(source.sha256)) {
    yaml.fail(entry["sha256"], at + ".sha256", fmt::format("bad sha256 '{}'", source.sha256));
  }
  if (const YAML::Node split = entry["split_by_ids"]) {
    const std::string in = at + ".split_by_ids";
    source.split = read_split(yaml, split, in);
    if (!source.member.empty()) yaml.fail(split, in, "cannot be combined with member");
  }
  return source;
}

SourceTable load_table(const fs::path& file) {
  const YAML::Node root = load_yaml_file(file);
  const YamlReader yaml(file);
  yaml.check_keys(root, "", {"suites", "tasks"});
  SourceTable table;
  table.file = file;
  const YAML::Node tasks = yaml.require(root, "", "tasks");
  if (!tasks.IsMap()) yaml.fail(tasks, "tasks", "expected a mapping of task names");
  for (const auto& item : tasks) {
    TaskSource task;
    task.name = item.first.as<std::string>();
    const std::string where = "tasks." + task.name;
    const YAML::Node body = item.second;
    yaml.check_keys(body, where, {"source", "note", "files"});
    task.source = yaml.string_at(yaml.require(body, where, "source"), where + ".source");
    const YAML::Node files = yaml.require(body, where, "files");
    if (!files.IsSequence() || files.size() == 0) yaml.fail(files, where + ".files", "expected a non-empty list");
    for (size_t i = 0; i < files.size(); ++i) {
      task.files.push_back(read_file_source(yaml, files[i], fmt::format("{}.files[{}]", where, i)));
    }
    table.tasks.push_back(std::move(task));
  }
  if (const YAML::Node suites = root["suites"]) {
    if (!suites.IsMap()) yaml.fail(suites, "suites", "expected a mapping of suite names to task lists");
    for (const auto& item : suites) {
      const auto name = item.first.as<std::string>();
      const auto members = yaml.strings_at(item.second, "suites." + name, "a list of task names");
      for (const auto& member : members) {
        if (!table.find(member)) yaml.fail(item.second, "suites." + name, fmt::format("unknown task '{}'", member));
      }
      table.suites.emplace_back(name, members);
    }
  }
  return table;
}

}  // namespace

const TaskSource* SourceTable::find(const std::string& name) const {
  for (const auto& task : tasks) {
    if (task.name == name) return &task;
  }
  return nullptr;
}

const TaskSource& SourceTable::task(const std::string& task) const {
  if (const TaskSource* source = find(canonical_name(task))) return *source;
  throw std::invalid_argument(
      fmt::format("no download sources for task '{}' in {} (known: {})", task, file.string(), known_names()));
}

std::string SourceTable::known_names() const {
  std::vector<std::string> names;
  for (const auto& [suite, members] : suites) names.push_back(suite);
  for (const auto& task : tasks) names.push_back(task.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string canonical_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return c == '_' ? '-' : std::tolower(c); });
  return name;
}

SourceTable load_sources(const DataOptions& options) {
  return load_table(options.data_sources.empty() ? fs::path(electra::source_dir()) / "configs" / "data_sources.yaml"
                                                 : options.data_sources);
}

std::vector<std::string> expand_data_targets(const std::string& task_or_suite, const DataOptions& options) {
  const SourceTable table = load_sources(options);
  const std::string name = canonical_name(task_or_suite);
  for (const auto& [suite, members] : table.suites) {
    if (suite == name) return members;
  }
  if (name == "all") {
    std::vector<std::string> all;
    for (const auto& task : table.tasks) all.push_back(task.name);
    return all;
  }
  if (table.find(name)) return {name};
  throw std::invalid_argument(fmt::format("unknown task or suite '{}' in {} (known: {}, all)", task_or_suite,
                                          table.file.string(), table.known_names()));
}

std::vector<DataFileRecord> task_data_sources(const std::string& task, const DataOptions& options) {
  const SourceTable table = load_sources(options);
  std::vector<DataFileRecord> records;
  for (const auto& file : table.task(task).files) {
    DataFileRecord record;
    record.name = file.name;
    record.url = file.url;
    record.member = file.member;
    records.push_back(record);
  }
  return records;
}

}  // namespace electra
