// The pre-training loop of `electra pretrain`: ELECTRA's generator + discriminator trained with replaced-token
// detection on a PretrainingStream, AdamW, metrics.jsonl, resumable training states and Hugging Face exports.
// No tensor in this header: the command includes it.
//
// The run directory (train/run_dir.h's: a folder holding a run is refused unless resumed, one without the room for
// two training states and the exports before training):
//   config.yaml          the resolved options (a resumed run reads them back)
//   metrics.jsonl        one line every train.logging_every steps
//   state/               the training state (train/train_state.h's commit protocol: state-*.pt + latest.json)
//   discriminator/       ElectraForPreTraining: config.json, model.safetensors, tokenizer files
//   generator/           ElectraForMaskedLM: the same files
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>

#include "pretrain/options.h"

namespace electra {

class Communicator;
struct CorpusOptions;

struct PretrainControl {
  bool resume = false;           // continue from output_dir/state (bit-identically)
  int64_t stop_after_steps = 0;  // > 0: save the state and exports and stop after this step
  bool force = false;            // start even when the memory estimate exceeds the limit (--force; a warning)
  std::ostream* log = nullptr;   // progress lines; null: std::cerr
  // The data-parallel group (null: this process alone). Every rank reads the same stream and takes its share of
  // each global batch; the losses are normalised by the global batch's counts and the gradients summed over the
  // ranks, so N ranks make the update of one process; rank 0 alone writes.
  std::shared_ptr<Communicator> comm;
};

struct PretrainOutcome {
  std::filesystem::path output_dir;
  int64_t steps = 0;      // optimizer steps done
  bool finished = false;  // reached train.max_steps
  bool already_finished = false;  // a resume of a finished run: nothing was trained or written
  int stopped_by = 0;  // the stop signal (common/stop_signal.h) that ended the run after saving its state, or 0
  double last_loss = 0;   // mean loss of the last logged window
  double tokens_per_second = 0;  // over the whole run (global, non-padding tokens)
};

// Trains as described above. Throws std::invalid_argument for bad options (missing vocab or corpus) and an output
// folder holding a run (without control.resume), std::runtime_error for unreadable files, an output folder that
// cannot be written or lacks the room, a corpus without examples, a memory estimate beyond what the process may use
// (before the model is built; pretrain/pretrain_memory.h, unless control.force), and a non-finite loss (the last
// saved state stays usable).
PretrainOutcome run_pretraining(const PretrainOptions& options, const PretrainControl& control);

// The corpus reader's options of a run.
CorpusOptions corpus_options(const PretrainOptions& options);

}  // namespace electra
