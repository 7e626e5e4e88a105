#include "train/evaluation.h"

#include <ATen/ATen.h>

#include <numeric>

#include "common/stopwatch.h"
#include "train/autocast.h"
#include "train/batcher.h"

namespace electra {
namespace {

c10::Device model_device(const ElectraModel& model) {
  for (const auto& p : model.module()->parameters()) return p.device();
  return at::kCPU;
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
  std::vector<FeatureOutput> outputs(features.size());
  for (const auto& indices : chunk(order, options.batch_size)) {
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
  EvalResult result;
  result.predictions = task.decode(examples, features, outputs, options.decode);
  result.metrics = task.score(examples, result.predictions);
  result.seconds = stopwatch.seconds();
  return result;
}

}  // namespace electra
