// What loading a checkpoint asks for and reports, with no tensor in the interface. Loading itself:
// architectures/electra_model.h; a checkpoint's summary: architectures/checkpoints.h.
#pragma once

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

}  // namespace electra
