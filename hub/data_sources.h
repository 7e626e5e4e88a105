// The URL table of task data (configs/data_sources.yaml): per task its publisher and files (url, archive member,
// sha256, MRPC-style split), and the suites that group tasks. Loaded with errors naming file, line and key.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hub/data.h"
#include "hub/mrpc_split.h"

namespace electra {

struct FileSource {
  std::string name, url, member, sha256;
  std::optional<SplitByIds> split;
};

struct TaskSource {
  std::string name, source;
  std::vector<FileSource> files;
};

struct SourceTable {
  std::filesystem::path file;
  std::vector<std::pair<std::string, std::vector<std::string>>> suites;
  std::vector<TaskSource> tasks;

  const TaskSource* find(const std::string& name) const;
  // The entry of `task` (any spelling canonical_name accepts); throws std::invalid_argument naming the known ones.
  const TaskSource& task(const std::string& task) const;
  std::string known_names() const;  // "suite, ..., task, ..."
};

// "MRPC", "sts_b" -> "mrpc", "sts-b": the table's spelling of a task or suite name.
std::string canonical_name(std::string name);

// The table options.data_sources names (empty: configs/data_sources.yaml of the source tree). Throws
// std::invalid_argument "FILE:LINE: key 'KEY': WHAT" for a malformed table.
SourceTable load_sources(const DataOptions& options);

}  // namespace electra
