// Benchmark data from its publishers, fetched once and reused: <data_dir>/<task>/ holds a task's files under their
// upstream names, as the URL table (configs/data_sources.yaml) lists them, and a manifest of what came from where.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hub/download.h"

namespace electra {

// offline: never download, a missing file is an error listing what is missing. Publishers' servers get twice the
// hub's timeouts.
struct DataOptions : DownloadOptions {
  DataOptions() {
    connect_timeout_s = 20;
    stall_timeout_s = 120;
  }
  std::filesystem::path data_sources;  // URL table; empty: <source dir>/configs/data_sources.yaml
};

struct DataFileRecord {
  std::string name;    // file name in the task directory (the upstream name the task adapter expects)
  std::string url;     // where it came from; empty when the file was placed there by hand
  std::string member;  // path inside the archive at `url`, when it came from one
  int64_t size = 0;
  std::string sha256;
  std::string date;    // UTC, ISO 8601, when it was downloaded (or first recorded)
};

struct DataManifest {
  std::string task;
  std::filesystem::path dir;            // <data_dir>/<task>
  std::vector<DataFileRecord> files;    // one per file of the task, in the table's order
  std::vector<std::string> downloaded;  // names fetched by this call
};

// The data directory: $ELECTRA_DATA, else ~/.cache/electra/data.
std::filesystem::path default_data_dir();
// Task names of a suite ("korean", "glue") or a single task, as the URL table lists them.
std::vector<std::string> expand_data_targets(const std::string& task_or_suite, const DataOptions& options);
// What the URL table says about `task`: one record per file with name, url and member (no size or hash).
std::vector<DataFileRecord> task_data_sources(const std::string& task, const DataOptions& options);
// Makes every file of `task` present in <data_dir>/<task>/ (downloading, unpacking and splitting as the URL
// table says) and records url, size, sha256 and date in <data_dir>/<task>/manifest.json.
DataManifest ensure_task_data(const std::string& task, const std::filesystem::path& data_dir,
                              const DataOptions& options);

}  // namespace electra
