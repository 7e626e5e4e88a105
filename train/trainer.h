// Fine-tuning runs. One seed composes the parts of train/: task data and features (task_data.h), the step
// (step.h) in a loop over seeded epochs, dev evaluation and selection (evaluation.h, selection.h), the training
// state (train_state.h) and the run directory (run_dir.h). An experiment runs every seed and reports the median.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "train/options.h"

namespace electra {

class Communicator;

struct RunControl {
  std::filesystem::path model_dir;  // resolved local checkpoint directory
  bool resume = false;              // continue from the state run_dir/state/latest.json names
  int64_t stop_after_steps = 0;     // > 0: save the training state and stop after this step (tests, --stop-after)
  bool force = false;               // start even when the memory estimate exceeds the limit (--force; a warning)
  std::ostream* log = nullptr;      // progress and messages; null: std::cerr
  // The data-parallel group (dist/environment.h connect()); null: this process alone. Every rank runs the same
  // experiment: `train.batch_size` is the global batch, shared out among the ranks; rank 0 alone writes the run
  // directory and logs; evaluation is shared out. Every rank reads the run directory (--resume, best/), so ranks on
  // several machines need it on a shared file system.
  std::shared_ptr<Communicator> comm;
};

struct RunOutcome {
  std::filesystem::path run_dir;
  bool finished = false;  // false: stopped by stop_after_steps or a stop signal
  int stopped_by = 0;     // the stop signal (common/stop_signal.h) that ended the run after saving its state, or 0
  Metrics reported;       // metrics of `split`
  std::string split;      // "test" when the task has one, else "dev"
  int64_t steps = 0;
};

// One seed of `task`: trains in `run_dir` and writes everything there. With `control.resume`, a finished run
// (results.json there) is reported from its results.json and nothing is written. Throws std::runtime_error on a
// non-finite loss (the last training state and best/ stay usable), before training when the folder cannot be written
// or lacks the space for two training states and the best model, before writing anything when the memory estimate
// exceeds what the process may use (train/memory_preflight.h; unless control.force), and when a checkpoint cannot
// be written.
RunOutcome run_seed(const Task& task, const ExperimentOptions& options, int64_t seed,
                    const std::filesystem::path& run_dir, const RunControl& control);

// The folder a run writes: options.output_dir, or runs/<task> when it is empty.
std::filesystem::path experiment_dir(const ExperimentOptions& options);

// Every seed of `options.seeds` (one run dir each under output_dir when there are several, skipping finished ones),
// then summary.json with the median over seeds in output_dir. `task` is find_task(options.task), looked up once by
// the caller.
std::vector<RunOutcome> run_experiment(const Task& task, const ExperimentOptions& options, const RunControl& control);

}  // namespace electra
