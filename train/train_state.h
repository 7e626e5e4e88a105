// The resumable training state: weights, AdamW moments and step, the CPU (and CUDA) random generators, and where the
// loop stands. A resumed run continues bit-identically.
//
// On disk (README "Crash safety"), in the run's state/ folder:
//   state-<step>-<hash>.pt  one saved state (a torch archive), written durably (train/durable_files.h)
//   latest.json             the commit record, written durably after the state file: its name, step, size and sha256
// A state counts only once latest.json names it, and loading checks its size and sha256 first: a SIGKILL at any
// moment leaves the previous complete state loadable, and a state file cut short is refused, never loaded.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "model/electra.h"
#include "train/optimizer.h"
#include "train/selection.h"

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

// The commit protocol on its own, for other loops' states (pre-training): writes `content` as a new state file of
// `state_dir`, commits it in latest.json and removes the states it replaces (crash points as save_training_state).
void commit_state_bytes(const std::filesystem::path& state_dir, int64_t step, const std::string& content);
// The bytes of the state latest.json commits, verified (size, sha256); throws as load_training_state. `file`, when
// given, receives the state file's path.
std::string read_committed_state(const std::filesystem::path& state_dir, std::filesystem::path* file = nullptr);

// Bytes of one saved state of `model` (fp32 weights and two AdamW moments), for the free-space check before a run.
uint64_t training_state_bytes(const ElectraModel& model);

}  // namespace electra
