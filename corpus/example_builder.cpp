#include "corpus/example_builder.h"

#include <algorithm>
#include <climits>

#include "corpus/draws.h"

namespace electra {

ExampleBuilder::ExampleBuilder(const CorpusOptions& options, int32_t cls_id, int32_t sep_id, uint64_t seed)
    : max_length_(options.max_seq_length),
      target_length_(options.max_seq_length),
      short_seq_prob_(options.short_seq_prob),
      single_segment_prob_(options.single_segment_prob),
      cls_id_(cls_id),
      sep_id_(sep_id),
      rng_(seed) {
  validate(options);
}

double ExampleBuilder::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

bool ExampleBuilder::add_sentence(const std::vector<int32_t>& ids, PretrainingExample& out) {
  if (ids.empty()) return false;
  sentences_.push_back(ids);
  length_ += static_cast<int64_t>(ids.size());
  if (length_ < target_length_) return false;
  create_example(out);
  return true;
}

bool ExampleBuilder::end_document(PretrainingExample& out) {
  if (length_ == 0) return false;
  create_example(out);
  return true;
}

void ExampleBuilder::create_example(PretrainingExample& out) {
  const int64_t first_target = uniform() < single_segment_prob_ ? INT64_MAX : (target_length_ - 3) / 2;
  std::vector<int32_t> first, second;
  for (const std::vector<int32_t>& sentence : sentences_) {
    const auto a = static_cast<int64_t>(first.size());
    // To A when A is empty, when the sentence keeps A under its target, or (while B is empty and A is under its
    // target) with chance 1/2; otherwise to B. The draw happens only when the earlier conditions fail.
    const bool to_first = a == 0 || a + static_cast<int64_t>(sentence.size()) < first_target ||
                          (second.empty() && a < first_target && uniform() < 0.5);
    std::vector<int32_t>& segment = to_first ? first : second;
    segment.insert(segment.end(), sentence.begin(), sentence.end());
  }
  if (static_cast<int64_t>(first.size()) > max_length_ - 2) first.resize(max_length_ - 2);
  const int64_t second_max = std::max<int64_t>(0, max_length_ - static_cast<int64_t>(first.size()) - 3);
  if (static_cast<int64_t>(second.size()) > second_max) second.resize(second_max);

  sentences_.clear();
  length_ = 0;
  if (uniform() < short_seq_prob_) {
    target_length_ = 5 + static_cast<int64_t>(below(rng_, static_cast<uint64_t>(max_length_ - 5 + 1)));
  } else {
    target_length_ = max_length_;
  }

  out.input_ids.clear();
  out.input_ids.reserve(first.size() + second.size() + 3);
  out.input_ids.push_back(cls_id_);
  out.input_ids.insert(out.input_ids.end(), first.begin(), first.end());
  out.input_ids.push_back(sep_id_);
  out.first_segment_length = static_cast<int32_t>(out.input_ids.size());
  if (!second.empty()) {
    out.input_ids.insert(out.input_ids.end(), second.begin(), second.end());
    out.input_ids.push_back(sep_id_);
  }
}

}  // namespace electra
