// `electra download model ID[@rev]` and `electra download data TASK|korean|glue ...`: fill the caches ahead of
// a run (a run fetches what it lacks by itself too).
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "hub/data.h"
#include "hub/hub.h"
#include "tasks/task.h"

namespace electra::cli {
namespace {

struct ModelArgs {
  std::string id;
  std::string cache_dir;
  bool verify = false;
  bool cached = false;
};

struct DataArgs {
  std::vector<std::string> targets;
  std::string data_dir;
  std::string data_sources;
  bool offline = false;
};

void run_model(const ModelArgs& args) {
  HubOptions options = HubOptions::from_environment();
  if (!args.cache_dir.empty()) options.cache_dir = args.cache_dir;
  options.verify = args.verify;
  options.refresh = !args.cached;  // an explicit download asks the hub for the revision's latest commit
  const ModelSnapshot snap = fetch_model(parse_model_id(args.id), options);
  fmt::print("{} at commit {}: {}\n", args.id, snap.commit, snap.dir.string());
  for (const auto& file : snap.files) {
    const bool fresh = std::find(snap.downloaded.begin(), snap.downloaded.end(), file) != snap.downloaded.end();
    fmt::print("  {}{}\n", file, fresh ? " (downloaded)" : "");
  }
}

void run_data(const DataArgs& args) {
  DataOptions options;
  options.offline = args.offline;
  options.data_sources = args.data_sources;
  const std::filesystem::path data_dir = args.data_dir.empty() ? default_data_dir() : std::filesystem::path(args.data_dir);
  std::vector<std::string> tasks;
  for (const auto& target : args.targets) {
    for (const auto& task : expand_data_targets(target, options)) {
      if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) tasks.push_back(task);
    }
  }
  register_builtin_tasks();
  for (const auto& name : tasks) {
    const DataManifest manifest = ensure_task_data(name, data_dir, options);
    fmt::print("{}: {}\n", name, manifest.dir.string());
    for (const auto& file : manifest.files) {
      const bool fresh =
          std::find(manifest.downloaded.begin(), manifest.downloaded.end(), file.name) != manifest.downloaded.end();
      fmt::print("  {:<28} {:>12} bytes  sha256 {}{}\n", file.name, file.size, file.sha256.substr(0, 16),
                 fresh ? "  (downloaded)" : "");
    }
    // Every file must read with the task's adapter: a bad row throws, naming file, line and value.
    const Task& task = find_task(name);
    for (const auto& [split, files] : task.files()) {
      for (const auto& file : files) {
        const ReadResult read = task.read(manifest.dir / file, ReadOptions{});
        fmt::print("  {} {}: {} examples", to_string(split), file, read.examples.size());
        if (read.skipped_bad_rows > 0) fmt::print(", {} malformed rows skipped", read.skipped_bad_rows);
        if (read.skipped_by_rule > 0) fmt::print(", {} rows dropped by the published rule", read.skipped_by_rule);
        fmt::print("\n");
        for (const auto& warning : read.warnings) fmt::print("    {}\n", warning);
      }
    }
  }
}

}  // namespace

void add_download_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("download", "Fetch a model from the Hugging Face hub, or benchmark data from its publishers");
  cmd->require_subcommand(1);

  auto model_args = std::make_shared<ModelArgs>();
  auto* model = cmd->add_subcommand(
      "model", "Download a model into the Hugging Face cache (HF_HUB_CACHE / HF_HOME; honours HF_ENDPOINT, HF_TOKEN, "
               "HF_HUB_OFFLINE)");
  model->add_option("id", model_args->id, "org/name[@revision]")->required();
  model->add_option("--cache-dir", model_args->cache_dir, "cache directory (default: $HF_HUB_CACHE, $HF_HOME/hub, "
                                                          "~/.cache/huggingface/hub)");
  model->add_flag("--verify", model_args->verify, "re-hash cached weight blobs and replace corrupted ones");
  model->add_flag("--cached", model_args->cached, "use a cached snapshot of the revision without asking the hub for a newer commit");
  model->callback([model_args] { run_model(*model_args); });

  auto data_args = std::make_shared<DataArgs>();
  auto* data = cmd->add_subcommand("data", "Download task data (a task name, 'korean', 'glue' or 'all') from its publishers");
  data->add_option("targets", data_args->targets, "tasks or suites")->required();
  data->add_option("--data-dir", data_args->data_dir, "data directory (default: $ELECTRA_DATA, ~/.cache/electra/data)");
  data->add_option("--sources", data_args->data_sources, "URL table (default: configs/data_sources.yaml of the source tree)");
  data->add_flag("--offline", data_args->offline, "download nothing: only check that the files are there");
  data->callback([data_args] { run_data(*data_args); });
}

}  // namespace electra::cli
