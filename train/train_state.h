// The resumable training state (state/training_state.pt): weights, AdamW moments and step, the CPU (and CUDA)
// random generators, and where the loop stands. A resumed run continues bit-identically.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>

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

// Written atomically (a crash leaves the previous state).
void save_training_state(const std::filesystem::path& file, const ElectraModel& model, const AdamW& optimizer,
                         const TrainState& state, const c10::Device& device);
// Restores weights, moments and generators into `model` and `optimizer`; throws std::runtime_error naming the
// file when it is missing, unreadable, lacks a key or holds a tensor of another shape.
TrainState load_training_state(const std::filesystem::path& file, ElectraModel& model, AdamW& optimizer,
                               const c10::Device& device);

}  // namespace electra
