// Best-model selection on dev and early stopping: which evaluation is the best so far, and when to stop.
#pragma once

#include <cstdint>
#include <limits>

#include "train/options.h"

namespace electra {

// Kept in the training state, so that a resumed run selects as an uninterrupted one.
struct SelectionState {
  double best_score = -std::numeric_limits<double>::infinity();
  int64_t best_step = -1;       // -1: no evaluation has been the best yet
  int64_t bad_evals = 0;        // evaluations since the last improvement
  int64_t last_eval_step = -1;  // step of the last dev evaluation (-1: none)
  bool stopped_early = false;
};

struct SelectionDecision {
  bool improved = false;  // the model of this step is the new best (save it)
  bool stop = false;      // early stopping: no improvement in train.early_stopping_patience evaluations
};

// Records the dev score `main` of `step`: with train.select_best, a strictly higher score is the new best; after
// train.early_stopping_patience (> 0) evaluations without one, stop.
SelectionDecision observe_dev_score(SelectionState& state, const TrainOptions& options, int64_t step, double main);

}  // namespace electra
