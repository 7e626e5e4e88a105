#include "fuzz/task_target.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <exception>
#include <string_view>
#include <unordered_map>

#include "fuzz/fuzz_support.h"
#include "tasks/task.h"
#include "tokenizer/tokenizer.h"

namespace electra::fuzz {
namespace {

const Tokenizer& small_tokenizer() {
  static const Tokenizer tokenizer = [] {
    std::unordered_map<std::string, int64_t> vocab;
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "the", "##s", "##a", "영화",
                          "##는", "좋", "##다", ".", ",", "?", "1", "##1"})
      vocab.emplace(t, static_cast<int64_t>(vocab.size()));
    return Tokenizer(std::move(vocab), TokenizerOptions{});
  }();
  return tokenizer;
}

// What Task::decode would give for a perfect model: the format `electra score` reads.
std::string gold_prediction(HeadKind head, const Example& ex) {
  switch (head) {
    case HeadKind::sequence_classification: return ex.label;
    case HeadKind::regression: return fmt::format("{}", ex.score);
    case HeadKind::token_classification: return fmt::format("{}", fmt::join(ex.tags, " "));
    case HeadKind::span_extraction: return ex.answers.empty() ? "" : ex.answers.front().text;
  }
  return "";
}

}  // namespace

int read_task_file(const std::vector<std::string>& tasks, const std::string& file_name, const uint8_t* data,
                   size_t size) {
  const Input in = split_input(data, size, 1);
  const Task& task = find_task(tasks[in.flags % tasks.size()]);
  ReadOptions options;
  options.skip_bad_rows = (in.flags & 0x40) != 0;
  options.training = (in.flags & 0x80) != 0;
  const auto file = write_scratch(file_name, in.parts[0]);
  try {
    const ReadResult read = task.read(file, options);
    FeatureOptions features;
    features.max_seq_length = 16 + (in.flags & 0x30);
    features.doc_stride = 8;
    features.max_query_length = 6;
    (void)task.featurize(read.examples, small_tokenizer(), features);
    std::vector<std::string> predictions;
    for (const auto& ex : read.examples) predictions.push_back(gold_prediction(task.head(), ex));
    if (!read.examples.empty()) (void)task.score(read.examples, predictions);
  } catch (const std::exception&) {
  }
  return 0;
}

}  // namespace electra::fuzz
