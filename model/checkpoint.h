// What loading a checkpoint asks for and reports, and a checkpoint's summary (`electra inspect`), with no tensor in
// the interface. Loading itself: model/electra.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/config.h"

namespace electra {

// What to build on top of a checkpoint. A head whose architecture, labels or problem type differ from the
// checkpoint's is a new head: the checkpoint's head keys are then ignored and the head is newly initialised.
struct LoadOptions {
  // Head to build. When `architecture` is Architecture::model the checkpoint's own architecture is used
  // (a pre-training checkpoint gives the bare encoder).
  Architecture architecture = Architecture::model;
  std::vector<std::string> id2label;  // non-empty: overrides the checkpoint's labels (fine-tuning a new task)
  std::string problem_type;           // "regression" for one-output regression heads (one label when none given)
};

struct LoadReport {
  std::filesystem::path weights_file;
  Architecture checkpoint_architecture = Architecture::model;  // the class named in config.json
  std::vector<std::string> newly_initialised;  // head keys not in the checkpoint (HF names)
  std::vector<std::string> ignored;            // checkpoint keys not used (pre-training heads, position_ids, ...)
  std::string weights_dtype;                   // stored dtype of the parameters: "F32", "F16", "BF16", "F16+F32"
};

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
