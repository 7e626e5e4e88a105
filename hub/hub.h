// Models from the Hugging Face hub, fetched once and reused. They live in the cache that Python's huggingface_hub
// uses (same layout, same locks), so either tool finds what the other downloaded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "hub/download.h"

namespace electra {

// offline (HF_HUB_OFFLINE=1): use the cache only; the other download settings as DownloadOptions has them.
struct HubOptions : DownloadOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
  std::filesystem::path cache_dir;  // HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
  std::string token;                // HF_TOKEN, else the file $HF_TOKEN_PATH / $HF_HOME/token; never printed
  bool refresh = false;             // ask the hub for the revision's current commit even when the cache has it
  bool verify = false;              // re-hash cached LFS blobs (sha256 names) and replace corrupted ones

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

}  // namespace electra
