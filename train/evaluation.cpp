#include "train/evaluation.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "common/crash_point.h"
#include "common/stop_signal.h"
#include "common/stopwatch.h"
#include "dist/communicator.h"
#include "train/autocast.h"
#include "train/batcher.h"

namespace electra {
namespace {

c10::Device model_device(const ElectraModel& model) {
  for (const auto& p : model.module()->parameters()) return p.device();
  return at::kCPU;
}

// Completes `outputs` on every rank: rank r filled the features `mine` marks; the others' come by two sums over
// the ranks (sizes, then values; every other rank adds zeros).
void gather_outputs(std::vector<FeatureOutput>& outputs, const std::vector<bool>& mine, Communicator& comm) {
  const auto n = static_cast<int64_t>(outputs.size());
  at::Tensor sizes = at::zeros({n, 3}, at::kLong);
  auto sz = sizes.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    if (!mine[i]) continue;
    sz[i][0] = static_cast<int64_t>(outputs[i].logits.size());
    sz[i][1] = static_cast<int64_t>(outputs[i].start_logits.size());
    sz[i][2] = static_cast<int64_t>(outputs[i].end_logits.size());
  }
  comm.all_reduce_sum({sizes}, "the gather of evaluation output sizes");
  at::Tensor values = at::zeros({sizes.sum().item<int64_t>()}, at::kFloat);
  float* v = values.data_ptr<float>();
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (auto* field : {&outputs[i].logits, &outputs[i].start_logits, &outputs[i].end_logits}) {
      if (mine[i]) std::copy(field->begin(), field->end(), v + offset);
      offset += static_cast<int64_t>(field == &outputs[i].logits         ? sz[i][0]
                                     : field == &outputs[i].start_logits ? sz[i][1]
                                                                         : sz[i][2]);
    }
  }
  comm.all_reduce_sum({values}, "the gather of evaluation outputs");
  offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t f = 0; f < 3; ++f) {
      std::vector<float>& field = f == 0 ? outputs[i].logits : f == 1 ? outputs[i].start_logits : outputs[i].end_logits;
      if (!mine[i]) field.assign(v + offset, v + offset + sz[i][f]);
      offset += sz[i][f];
    }
  }
}

}  // namespace

LoadOptions load_options_for(const Task& task) {
  LoadOptions lo;
  switch (task.head()) {
    case HeadKind::sequence_classification:
      lo.architecture = Architecture::sequence_classification;
      lo.id2label = task.labels();
      break;
    case HeadKind::regression:
      lo.architecture = Architecture::sequence_classification;
      lo.id2label = {"LABEL_0"};
      lo.problem_type = "regression";
      break;
    case HeadKind::token_classification:
      lo.architecture = Architecture::token_classification;
      lo.id2label = task.labels();
      break;
    case HeadKind::span_extraction:
      lo.architecture = Architecture::question_answering;
      break;
  }
  return lo;
}

EvalResult evaluate(const ElectraModel& model, const Task& task, const std::vector<Example>& examples,
                    const std::vector<Feature>& features, const EvalOptions& options) {
  const Stopwatch stopwatch;
  at::NoGradGuard no_grad;
  const bool was_training = model.module()->is_training();
  model.module()->eval();
  const c10::Device device = model_device(model);
  // Longest first, so each batch pads little; outputs go back to feature order.
  std::vector<int64_t> order(features.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return features[a].input_ids.size() > features[b].input_ids.size(); });
  const bool sharded = options.comm != nullptr && options.comm->distributed();
  std::vector<bool> mine(features.size(), !sharded);
  if (sharded) {
    std::vector<int64_t> share;
    const auto ranks = static_cast<size_t>(options.comm->world_size());
    for (auto p = static_cast<size_t>(options.comm->rank()); p < order.size(); p += ranks) {
      share.push_back(order[p]);
      mine[order[p]] = true;
    }
    order = share;
  }
  std::vector<FeatureOutput> outputs(features.size());
  const auto batches = chunk(order, options.batch_size);
  // Every rank checks for a stop as often as the rank with the most batches (shares differ by one feature at most).
  size_t checks = batches.size();
  if (sharded) {
    const auto ranks = static_cast<int64_t>(options.comm->world_size());
    const int64_t largest_share = (static_cast<int64_t>(features.size()) + ranks - 1) / ranks;
    checks = static_cast<size_t>((largest_share + options.batch_size - 1) / options.batch_size);
  }
  for (size_t b = 0; b < checks; ++b) {
    crash_point(fmt::format("rank{}.eval.batch", options.comm != nullptr ? options.comm->rank() : 0));
    const int signal = sharded ? options.comm->agree_on_stop(stop_signal()) : stop_signal();
    if (signal != 0) {
      if (was_training) model.module()->train();
      EvalResult stopped;
      stopped.stopped_by = signal;
      return stopped;
    }
    if (b >= batches.size()) continue;
    const std::vector<int64_t>& indices = batches[b];
    Batch batch = collate(features, indices, task.head(), options.bucket_multiple, options.max_seq_length, false);
    move_to(batch, device);
    ModelOutput out;
    {
      AutocastGuard autocast(options.bf16 && device.is_cuda());
      out = model.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids);
    }
    const at::Tensor logits = out.logits.defined() ? out.logits.to(at::kFloat).cpu() : at::Tensor();
    const at::Tensor starts = out.start_logits.defined() ? out.start_logits.to(at::kFloat).cpu() : at::Tensor();
    const at::Tensor ends = out.end_logits.defined() ? out.end_logits.to(at::kFloat).cpu() : at::Tensor();
    for (size_t r = 0; r < indices.size(); ++r) {
      const int64_t fi = indices[r];
      const auto len = static_cast<int64_t>(features[fi].input_ids.size());
      FeatureOutput& fo = outputs[fi];
      switch (task.head()) {
        case HeadKind::sequence_classification:
        case HeadKind::regression:
          fo.logits = float_values(logits[r]);
          break;
        case HeadKind::token_classification:
          fo.logits = float_values(logits[r].slice(0, 0, len));
          break;
        case HeadKind::span_extraction:
          fo.start_logits = float_values(starts[r].slice(0, 0, len));
          fo.end_logits = float_values(ends[r].slice(0, 0, len));
          break;
      }
    }
  }
  if (was_training) model.module()->train();
  if (sharded) gather_outputs(outputs, mine, *options.comm);
  EvalResult result;
  result.features_run_here = static_cast<int64_t>(order.size());
  result.predictions = task.decode(examples, features, outputs, options.decode);
  result.metrics = task.score(examples, result.predictions);
  result.seconds = stopwatch.seconds();
  return result;
}

}  // namespace electra
