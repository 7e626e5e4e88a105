#include "train/selection.h"

namespace electra {

SelectionDecision observe_dev_score(SelectionState& state, const TrainOptions& options, int64_t step, double main) {
  SelectionDecision decision;
  state.last_eval_step = step;
  decision.improved = options.select_best && main > state.best_score;
  if (decision.improved) {
    state.best_score = main;
    state.best_step = step;
    state.bad_evals = 0;
  } else if (options.select_best && options.early_stopping_patience > 0 &&
             ++state.bad_evals >= options.early_stopping_patience) {
    state.stopped_early = true;
    decision.stop = true;
  }
  return decision;
}

}  // namespace electra
