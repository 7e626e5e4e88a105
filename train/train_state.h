// The resumable training state: weights, AdamW moments and step, the CPU (and CUDA) random generators, and where the
// loop stands. A resumed run continues bit-identically.
//
// On disk (docs/reliability.md), in the run's state/ folder:
//   state-<step>-<hash>.pt  one saved state (a torch archive), written durably (common/files.h)
//   latest.json             the commit record, written durably after the state file: its name, step, size and sha256
// A state counts only once latest.json names it, and loading checks its size and sha256 first: a SIGKILL at any
// moment leaves the previous complete state loadable, and a state file cut short is refused, never loaded.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "architectures/electra_model.h"
#include "train/optimizer.h"
#include "train/selection.h"

namespace torch::serialize {
class InputArchive;
}

namespace electra {

struct TrainState {
  int64_t step = 0;            // optimizer steps done
  int64_t epoch = 0;           // current epoch (0-based)
  int64_t batch_in_epoch = 0;  // next batch of the epoch's order
  SelectionState selection;
  int64_t examples_seen = 0;
  double train_seconds = 0;
  double window_loss = 0;  // loss summed since the last metrics.jsonl line
  int64_t window_steps = 0;
};

// The commit record of `state_dir` (latest.json); a state is saved when it exists.
std::filesystem::path state_manifest(const std::filesystem::path& state_dir);

// Saves a new state into `state_dir` and commits it (crash points state.data.partial, state.data.renamed,
// state.manifest.partial, state.manifest.renamed, state.committed); then removes the states it replaces. Throws
// std::runtime_error naming the file that could not be written; the previous state stays the latest.
void save_training_state(const std::filesystem::path& state_dir, const ElectraModel& model, const AdamW& optimizer,
                         const TrainState& state, const c10::Device& device);
// Restores the latest state of `state_dir` into `model` and `optimizer`. Throws std::runtime_error naming the file
// when none was saved, or when the state file is missing, shorter or longer than recorded, fails its checksum, lacks
// a key or holds a tensor of another shape.
TrainState load_training_state(const std::filesystem::path& state_dir, ElectraModel& model, AdamW& optimizer,
                               const c10::Device& device);

// Named tensors in a fixed order (module parameters, extra state tensors).
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The archive every loop's state is (fine-tuning's, pre-training's): "model.<name>" for each parameter,
// "optim.<slot>" for the AdamW moments, "meta" (`meta`, a JSON object, with "optimizer_steps" added) and the
// loop's `extra` tensors. Written as a new state file of `state_dir`, committed in latest.json, the states it
// replaces removed (crash points "state.data", "state.manifest", "state.committed").
void commit_state(const std::filesystem::path& state_dir, int64_t step, const NamedTensors& parameters,
                  const AdamW& optimizer, const nlohmann::json& meta, const NamedTensors& extra = {});

// The state latest.json commits, verified (size, sha256) and opened. Every error (none saved, missing, cut short,
// wrong checksum, not an archive, a key lacking, a shape differing) is a std::runtime_error naming the file.
class CommittedState {
 public:
  explicit CommittedState(const std::filesystem::path& state_dir);
  ~CommittedState();
  CommittedState(const CommittedState&) = delete;
  CommittedState& operator=(const CommittedState&) = delete;

  const std::filesystem::path& file() const { return file_; }
  const nlohmann::json& meta() const { return *meta_; }  // the "meta" record, a JSON object
  at::Tensor read(const std::string& key);
  bool try_read(const std::string& key, at::Tensor& out);
  // Copies "model.<name>" into each parameter and the moments and step count into `optimizer` (moved to `device`).
  void restore(const NamedTensors& parameters, AdamW& optimizer, const c10::Device& device);

 private:
  std::filesystem::path file_;
  std::unique_ptr<torch::serialize::InputArchive> archive_;
  std::unique_ptr<nlohmann::json> meta_;
};

// Bytes of one saved state of `parameters` (fp32 weights and two AdamW moments), for the free-space check before a
// run.
uint64_t training_state_bytes(const NamedTensors& parameters);

}  // namespace electra
