// Whole checkpoint folders with no tensor in the interface: a checkpoint's summary (`electra inspect`) and a
// randomly initialised model written as a checkpoint (`electra init`).
#pragma once

#include <cstdint>
#include <filesystem>

#include "model/checkpoint.h"
#include "model/config.h"

namespace electra {

struct CheckpointSummary {
  ElectraConfig config;  // as built (the checkpoint's own head)
  LoadReport report;
  int64_t embedding_parameters = 0, encoder_parameters = 0, head_parameters = 0;
};

// Loads DIR as load_pretrained(DIR) does and counts its parameters by part. Throws as load_pretrained.
CheckpointSummary summarize_checkpoint(const std::filesystem::path& dir);

// Writes a randomly initialised model of `config` to DIR in Hugging Face's layout (config.json, model.safetensors)
// with Hugging Face's initialisation (normal(0, initializer_range) weights, zero biases, LayerNorm 1/0, a zero
// padding row), drawn from `seed`, and copies the tokenizer files of `tokenizer_dir` beside it.
void write_initialized_model(const ElectraConfig& config, const std::filesystem::path& dir,
                             const std::filesystem::path& tokenizer_dir, uint64_t seed);

}  // namespace electra
