// Fine-tuning's memory preflight (docs/memory.md): before a run writes its folder, the estimate of its peak from the
// model's config.json, the options and the tokenized data, printed, and compared with the memory the process may use
// (a refusal naming the keys, unless forced); and `train.gradient_accumulation_steps: auto`'s micro-batch (or
// `train.batch_size: auto`'s): the largest divisor of the batch size whose estimate fits, then one real
// forward/backward of it (the next divisor at most half as large on an out-of-memory error), recorded in the run
// folder (auto_batch.json) and reused when the run resumes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

#include "architectures/electra_model.h"
#include "tasks/task.h"
#include "train/memory_estimate.h"
#include "train/options.h"
#include "train/seed_run.h"

namespace electra {

// What the preflight decided.
struct MemoryPlan {
  MemoryEstimate estimate;
  int64_t micro_batch = 0;      // examples per micro-batch on this rank
  bool probe = false;           // accumulation auto, chosen now: probe_micro_batch() before the first step
};

// The preflight of one seed's run in `run_dir`, once its data is read: prints the estimate to `log`, and throws
// std::runtime_error when it exceeds the memory this process may use on `device` (unless `force`: then a warning).
// With gradient accumulation auto, sets options.train.gradient_accumulation_steps for the micro-batch chosen (the
// one auto_batch.json records when `resume`); throws std::invalid_argument for auto with several ranks.
MemoryPlan memory_preflight(const ElectraConfig& config, ExperimentOptions& options, const RunData& data, int world,
                            const std::string& device, bool force, bool resume, const std::filesystem::path& run_dir,
                            std::ostream& log);

// Gradient accumulation auto: one forward and backward of `plan.micro_batch` of the longest train features on
// `model` (its gradients zeroed after); on an out-of-memory error, the largest divisor of the batch size at most half
// as many, until one runs; records the result in
// run_dir/auto_batch.json and sets options.train.gradient_accumulation_steps. Throws std::runtime_error when even
// one example does not fit.
void probe_micro_batch(MemoryPlan& plan, ElectraModel& model, ExperimentOptions& options, const RunData& data,
                       HeadKind head, const c10::Device& device, const std::filesystem::path& run_dir,
                       std::ostream& log);

}  // namespace electra
