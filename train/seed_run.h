// One seed's training, from a model and optimizer set up (and possibly resumed) by run_seed (trainer.cpp): the
// step loop with dev evaluation, selection and checkpoints (seed_run.cpp), then the report (seed_report.cpp).
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "architectures/electra_model.h"
#include "common/stopwatch.h"
#include "tokenizer/tokenizer.h"
#include "train/batcher.h"
#include "train/evaluation.h"
#include "train/optimizer.h"
#include "train/progress.h"
#include "train/run_dir.h"
#include "train/step.h"
#include "train/task_data.h"
#include "train/train_state.h"
#include "train/trainer.h"

namespace electra {

// How long a run is, in optimizer steps.
struct StepPlan {
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  int64_t warmup_steps = 0;
};

// The data of a run once tokenized.
struct RunData {
  TaskData examples;
  std::vector<Feature> train, dev;
  // The longest test feature in tokens (0: no test split). The test features are made again when the run scores
  // them at its end; this length sizes the memory preflight's evaluation term before the first step.
  int64_t test_length = 0;
};

// train.dump_batches: the features of one split, one JSON line each, in feature order.
void dump_features(const std::filesystem::path& file, const std::vector<Feature>& features);

// One seed's training, from a model and optimizer set up (and possibly resumed) to the run's results.
class SeedRun {
 public:
  SeedRun(const Task& task, const ExperimentOptions& options, int64_t seed, const RunDirectory& dir,
          const RunControl& control, const Tokenizer& tokenizer, const RunData& data, ElectraModel& model,
          AdamW& optimizer, const c10::Device& device, const StepPlan& plan, TrainState state, Communicator& comm);

  // The step loop, until the planned steps, early stopping or control.stop_after_steps. False: interrupted.
  bool train();
  // The stop signal that ended train() early (common/stop_signal.h), 0 when none did.
  int stopped_by() const { return stopped_by_; }
  // The selected model's scores on dev / test, predictions and results.json (seed_report.cpp).
  RunOutcome finish(const Stopwatch& wall);
  int64_t steps() const { return s_.step; }

 private:
  std::vector<Batch> micro_batches(const std::vector<int64_t>& batch) const;
  // train.dump_batches: one line of batches.jsonl for the step about to run.
  void dump_step(const std::vector<Batch>& micro, double lr) const;
  void log_step(const StepResult& result, double lr, int64_t batch_examples);
  // False: a stop signal abandoned the evaluation; the selection is as before it, so that a resume runs it again.
  bool evaluate_dev();
  // The evaluation at this step that a state saved while it was abandoned still owes (docs/stopping.md).
  bool evaluation_owed() const;
  void save_best();
  // Saves the training state, unless the latest saved state is of this step and no evaluation came after it.
  void checkpoint();
  // The end of a run stopped by `signal` in finish(): the state of this step saved, the line printed.
  RunOutcome stopped_in_finish(int signal);
  [[noreturn]] void fail_non_finite(double loss);
  // Evaluates the model on `examples` and writes predictions to `file_name`.
  EvalResult score(const std::vector<Example>& examples, const std::vector<Feature>& features,
                   const std::string& file_name);

  const Task& task_;
  const ExperimentOptions& options_;
  const int64_t seed_;
  const RunDirectory& dir_;
  const RunControl& control_;
  std::ostream& log_;
  const Tokenizer& tokenizer_;
  const RunData& data_;
  ElectraModel& model_;
  AdamW& optimizer_;
  const c10::Device device_;
  const StepPlan plan_;
  TrainState s_;
  Progress progress_;
  EvalOptions eval_options_;
  const double seconds_before_;  // training time of the run before a resume
  Communicator& comm_;
  const bool writer_;            // rank 0: writes the run directory
  Stopwatch train_time_;   // since train() began
  Stopwatch window_time_;  // since the last metrics.jsonl line
  int64_t window_examples_ = 0;
  bool stop_ = false;
  int stopped_by_ = 0;
  int64_t saved_step_ = -1;  // the step of the state checkpoint() saved last, -1 after a dev evaluation
};

}  // namespace electra
