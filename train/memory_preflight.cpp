#include "train/memory_preflight.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <new>
#include <numeric>
#include <stdexcept>

#include "common/files.h"
#include "model/runtime.h"
#include "train/autocast.h"
#include "train/batcher.h"

namespace electra {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAutoBatchFile = "auto_batch.json";

int64_t longest_feature(const std::vector<Feature>& features) {
  size_t n = 0;
  for (const Feature& f : features) n = std::max(n, f.input_ids.size());
  return static_cast<int64_t>(n);
}

// The micro-batch auto_batch.json records, 0 when there is none.
int64_t recorded_micro_batch(const fs::path& run_dir, int64_t batch_size) {
  const fs::path file = run_dir / kAutoBatchFile;
  if (!fs::is_regular_file(file)) return 0;
  const auto j = nlohmann::json::parse(read_file(file), nullptr, false);
  const int64_t m = j.is_object() ? j.value("micro_batch", int64_t{0}) : 0;
  if (m < 1 || batch_size % m != 0)
    throw std::runtime_error(fmt::format("{}: expected {{\"micro_batch\": N}} with N dividing train.batch_size ({})",
                                         file.string(), batch_size));
  return m;
}

// The largest divisor of `batch_size` that is at most `at_most` (1 divides every batch size).
int64_t largest_divisor(int64_t batch_size, int64_t at_most) {
  for (int64_t d = std::min(batch_size, at_most); d > 1; --d)
    if (batch_size % d == 0) return d;
  return 1;
}

bool out_of_memory(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return true;
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  if (!torch_error) return false;
  const std::string message = torch_error->what_without_backtrace();
  return message.find("not enough memory") != std::string::npos ||
         message.find("out of memory") != std::string::npos;
}

// The sizes the estimate takes from the data read.
DataShape data_shape(const RunData& data) {
  DataShape d;
  d.train_features = static_cast<int64_t>(data.train.size());
  d.eval_features = static_cast<int64_t>(std::max(data.dev.size(), data.examples.test.size()));
  d.train_length = longest_feature(data.train);
  d.eval_length = std::max(longest_feature(data.dev), data.test_length);
  return d;
}

}  // namespace

MemoryPlan memory_preflight(const ElectraConfig& config, ExperimentOptions& options, const RunData& data, int world,
                            const std::string& device, bool force, bool resume, const fs::path& run_dir,
                            std::ostream& log) {
  MemoryPlan plan;
  TrainOptions& t = options.train;
  const double baseline = static_cast<double>(std::max<int64_t>(0, process_status_bytes("VmRSS")));
  const MemoryHeadroom room = run_headroom(device);
  const DataShape shape = data_shape(data);
  const std::string limit = room.bytes < 0 ? "no limit found" : format_bytes(static_cast<double>(room.bytes)) +
                                                                    " (" + room.source + ")";
  if (t.accumulation_auto) {
    if (world > 1)
      throw std::invalid_argument("key 'train.gradient_accumulation_steps' has value auto (or train.batch_size auto): "
                                  "it sizes one process's micro-batch; give numbers with --nproc or several ranks");
    plan.micro_batch = resume ? recorded_micro_batch(run_dir, t.batch_size) : 0;
    if (plan.micro_batch == 0) {
      // The largest divisor of the batch size whose estimate fits; 1 when none does (the check below then refuses it).
      plan.micro_batch = t.batch_size;
      while (plan.micro_batch > 1 && room.bytes >= 0 &&
             fine_tune_estimate(config, options, plan.micro_batch, &shape, baseline).added() >
                 static_cast<double>(room.bytes))
        plan.micro_batch = largest_divisor(t.batch_size, plan.micro_batch - 1);
      plan.probe = true;
    }
    t.gradient_accumulation_steps = t.batch_size / plan.micro_batch;
  } else {
    plan.micro_batch = configured_micro_batch(t, world);
  }
  plan.estimate = fine_tune_estimate(config, options, plan.micro_batch, &shape, baseline);
  log << fmt::format("memory: {}; this process may add {}{}\n", plan.estimate.describe(), limit,
                     t.accumulation_auto ? fmt::format("; gradient accumulation auto: micro-batch {} x {} "
                                                       "accumulation steps{}",
                                                     plan.micro_batch, t.gradient_accumulation_steps,
                                                     plan.probe ? " (probed before the first step)" : " (recorded)")
                                       : "");
  if (force) {
    if (room.bytes >= 0 && plan.estimate.added() > static_cast<double>(room.bytes))
      log << fmt::format("warning: memory: the estimate exceeds what this process may add ({}); --force starts "
                         "anyway\n",
                         room.detail);
  } else {
    check_memory(plan.estimate, room, "fine-tuning");
  }
  return plan;
}

void probe_micro_batch(MemoryPlan& plan, ElectraModel& model, ExperimentOptions& options, const RunData& data,
                       HeadKind head, const c10::Device& device, const fs::path& run_dir, std::ostream& log) {
  if (!plan.probe) return;
  // The longest features: the batch the run's worst step pads to.
  std::vector<int64_t> order(data.train.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return data.train[static_cast<size_t>(a)].input_ids.size() > data.train[static_cast<size_t>(b)].input_ids.size();
  });
  const bool bf16 = options.train.bf16 && device.is_cuda();
  const int64_t bucket = padding_multiple(options.data.bucket_multiple, device.is_cuda());
  for (;;) {
    std::vector<int64_t> indices;
    for (int64_t i = 0; i < plan.micro_batch; ++i) indices.push_back(order[static_cast<size_t>(i) % order.size()]);
    try {
      Batch batch = collate(data.train, indices, head, bucket, options.data.max_seq_length, true);
      move_to(batch, device);
      {
        const AutocastGuard autocast(bf16);
        model.loss(model.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids), batch.targets)
            .backward();
      }
      model.module()->zero_grad();
      break;
    } catch (const std::exception& e) {
      model.module()->zero_grad();
      if (!out_of_memory(e) || plan.micro_batch == 1) throw;
      const int64_t next = largest_divisor(options.train.batch_size, plan.micro_batch / 2);
      log << fmt::format("gradient accumulation auto: micro-batch {} ran out of memory ({}); trying {}\n",
                         plan.micro_batch, error_message(e), next);
      plan.micro_batch = next;
    }
  }
  options.train.gradient_accumulation_steps = options.train.batch_size / plan.micro_batch;
  write_file_atomic(run_dir / kAutoBatchFile,
                    nlohmann::json({{"micro_batch", plan.micro_batch},
                                    {"gradient_accumulation_steps", options.train.gradient_accumulation_steps},
                                    {"batch_size", options.train.batch_size}})
                            .dump(2) +
                        "\n");
  log << fmt::format("gradient accumulation auto: micro-batch {} x {} accumulation steps = {} examples per step "
                     "(recorded in {})\n",
                     plan.micro_batch, options.train.gradient_accumulation_steps, options.train.batch_size,
                     (run_dir / kAutoBatchFile).string());
  plan.probe = false;
}

}  // namespace electra
