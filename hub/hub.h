// Models from the Hugging Face hub and benchmark data from their publishers, fetched once and reused.
// Models live in the cache that Python's huggingface_hub uses (same layout, same locks), so either tool finds
// what the other downloaded; task data lives in <data_dir>/<task>/ under its upstream file names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace electra {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
  std::filesystem::path cache_dir;  // HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
  std::string token;                // HF_TOKEN, else the file $HF_TOKEN_PATH / $HF_HOME/token; never printed
  bool offline = false;             // HF_HUB_OFFLINE=1: use the cache only
  bool refresh = false;             // ask the hub for the revision's current commit even when the cache has it
  bool verify = false;              // re-hash cached LFS blobs (sha256 names) and replace corrupted ones
  int max_retries = 5;              // resumed attempts after a connection drops mid-file
  int retry_delay_ms = 1000;        // first wait between those attempts (doubles each time)
  long connect_timeout_s = 10;
  long stall_timeout_s = 60;        // give up on a transfer that sends nothing for this long
  bool progress = true;             // progress bars on stderr when it is a terminal
  bool quiet = false;               // no "downloading ..." lines on stderr

  // Defaults with the HF_* environment variables applied.
  static HubOptions from_environment();
};

// `org/name[@revision]` (or a legacy `name`); revision defaults to "main".
struct ModelId {
  std::string repo;
  std::string revision = "main";
};
ModelId parse_model_id(const std::string& text);  // throws std::invalid_argument naming the bad part
std::filesystem::path default_hub_cache();        // from the environment, as huggingface_hub computes it
std::string repo_folder_name(const std::string& repo);  // "org/name" -> "models--org--name"

struct ModelSnapshot {
  std::filesystem::path dir;             // <cache>/models--org--name/snapshots/<commit>
  std::string commit;
  std::vector<std::string> files;        // files present in dir among the ones electra uses
  std::vector<std::string> downloaded;   // of those, fetched by this call
};

// Makes the files electra needs (config.json, model.safetensors else pytorch_model.bin, vocab.txt else
// tokenizer.json, and tokenizer_config.json / special_tokens_map.json when the repo has them) present in the cache
// snapshot of `id` and returns it. A snapshot that already has them is used without any request unless options.refresh.
// Throws std::invalid_argument for a malformed id, std::runtime_error with what to do for everything else
// (unknown model or revision, gated or private repo, no network, offline with files missing, disk full, ...).
ModelSnapshot fetch_model(const ModelId& id, const HubOptions& options);

// An existing local directory is returned as is; anything else is a hub id resolved by fetch_model.
std::filesystem::path resolve_model(const std::string& path_or_id, const HubOptions& options);

struct DataOptions {
  std::filesystem::path sources_file;  // URL table; empty: <source dir>/configs/data_sources.yaml
  bool offline = false;                // never download: a missing file is an error listing what is missing
  int max_retries = 5;
  int retry_delay_ms = 1000;
  long connect_timeout_s = 20;
  long stall_timeout_s = 120;
  bool progress = true;
  bool quiet = false;
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
