// The run directory, everything a run needs to be resumed or audited (pre-training's holds the first three):
//   config.yaml              the resolved options (load_experiment() of it gives the same options)
//   metrics.jsonl            one JSON line per logged step ("train") and per evaluation ("eval")
//   state/                   the resumable training state: latest.json names the last complete one (train_state.h)
//   best/                    the selected model, Hugging Face layout
//   predictions_<split>.txt  one prediction per example, the format `electra score` reads
//   results.json             the one interface to leaderboards (schema in docs/results.md)
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/task.h"
#include "train/options.h"

namespace electra {

class RunDirectory {
 public:
  explicit RunDirectory(std::filesystem::path dir);

  // Creates the folder and writes `config_yaml` (the options' to_yaml()) to config.yaml. A folder that already holds
  // a training state is refused (std::invalid_argument) unless `resume`; one that cannot be created or written to
  // is refused (std::runtime_error) before anything is trained.
  void open(const std::string& config_yaml, bool resume);
  void open(const ExperimentOptions& options, bool resume) { open(to_yaml(options), resume); }
  // Throws std::runtime_error before training when the folder lacks the room for two training states of
  // `state_bytes` (a new one is written beside the last) and the model's weights twice (a model folder is written
  // beside the old one; `weights` names them: "the best model"), less what it already holds of them: the files
  // under state/ and `weight_dirs` (default: best/).
  void check_space(uint64_t state_bytes, std::string_view weights,
                   const std::vector<std::filesystem::path>& weight_dirs = {}) const;
  // A fresh run: removes what an earlier run left (metrics.jsonl, best/).
  void clear_outputs() const;
  // A resumed run: keeps the metrics.jsonl lines up to `step` (the run repeats what came after), without a line
  // cut short by a crash or the test-split line of a finish that did not complete.
  void truncate_metrics(int64_t step) const;
  void append_metrics(const nlohmann::json& line) const;
  void write_predictions(const std::string& file_name, const std::vector<std::string>& predictions) const;
  // Written last and durably: a run is finished once results.json is there.
  void write_results(const nlohmann::json& results) const;
  bool finished() const;

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  // The commit record of the training state (state/latest.json): a state is saved when it exists.
  std::filesystem::path state_file() const { return state_dir() / "latest.json"; }
  std::filesystem::path best_dir() const { return dir_ / "best"; }
  std::filesystem::path metrics_file() const { return dir_ / "metrics.jsonl"; }

 private:
  std::filesystem::path dir_;
};

// The file that shows `dir` holds a fine-tuning run or experiment (its training state, metrics.jsonl,
// summary.json, config.yaml, or a results.json written by the trainer), or an empty path. `electra eval
// --output-dir` refuses such a folder.
std::filesystem::path training_run_marker(const std::filesystem::path& dir);

// True when `dir` holds a saved run: a training state (its own or a seed-N/ one's) or an experiment's summary.json.
bool holds_saved_run(const std::filesystem::path& dir);
// Whether rerunning a command resumes the run in `dir`: false when it holds no saved run (the command starts one);
// true when it does and its config.yaml holds the same options as `config_yaml` (the resolved options' YAML), so that
// a requeued job script resumes; std::invalid_argument listing each key that differs (old -> new) otherwise.
bool same_command_resumes(const std::filesystem::path& dir, const std::string& config_yaml);

// Writes one prediction per line (the format `electra score` reads).
void write_predictions(const std::filesystem::path& file, const std::vector<std::string>& predictions);

nlohmann::json metrics_json(const Metrics& metrics);
// {"electra": ..., "libtorch": ...}, as results.json records them.
nlohmann::json versions_json();

}  // namespace electra
