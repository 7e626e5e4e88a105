// A benchmark task: reads its upstream files into examples, featurises them for its head, decodes model
// outputs back into predictions in the task's own vocabulary, and scores predictions. Knows nothing of the trainer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace electra {

enum class HeadKind { sequence_classification, regression, token_classification, span_extraction };
std::string to_string(HeadKind kind);
HeadKind parse_head_kind(const std::string& name);

enum class Split { train, dev, test };
std::string to_string(Split split);
Split parse_split(const std::string& name);

struct Answer {
  std::string text;
  int64_t start = 0;  // code point offset into the context
};

// One row of a dataset, as the upstream file has it.
struct Example {
  std::string id;                      // upstream id, else "<file>:<line>"
  int64_t line = 0;                    // 1-based line in the file (first line of the record)
  std::string text_a;                  // sentence / first sentence / question (QA)
  std::optional<std::string> text_b;   // second sentence / context (QA)
  std::string label;                   // classification label as written in the data (canonical form)
  double score = 0.0;                  // regression target
  std::vector<std::string> words;      // NER words
  std::vector<std::string> tags;       // NER tags, one per word
  std::vector<Answer> answers;         // QA gold answers (in text_b = context)
};

// One model input. QA examples may give several features (sliding windows).
struct Feature {
  std::vector<int64_t> input_ids, token_type_ids;  // no padding; attention is 1 on every position
  int64_t label = -100;                 // class index (sequence classification)
  float score = 0.f;                    // regression target
  std::vector<int64_t> token_labels;    // token classification: class index or -100, one per position
  int64_t start_position = 0, end_position = 0;  // span extraction targets (0 = [CLS] when absent)
  int64_t example_index = 0;            // index into the examples vector it came from
  std::vector<std::pair<int64_t, int64_t>> offsets;  // QA: code point offsets into the context, (-1,-1) outside it
  int64_t words_truncated = 0;          // NER: words of the example lost to truncation
};

// What the model produced for one feature (already on the CPU, padding removed).
struct FeatureOutput {
  std::vector<float> logits;        // seq classification [C]; regression [1]; token classification [T*C] row-major
  std::vector<float> start_logits;  // span extraction [T]
  std::vector<float> end_logits;    // span extraction [T]
};

struct ReadOptions {
  bool skip_bad_rows = false;  // false: a bad row throws std::runtime_error naming file, line and value
  bool training = false;       // a training split: rules that only training applies (KorQuAD answer offsets)
  // How the user turns skip_bad_rows on where they are, quoted in the error a bad row raises.
  std::string skip_hint = "set data.skip_bad_rows: true";
};

// What reading a file gave, including what was skipped on purpose (never silently).
struct ReadResult {
  std::vector<Example> examples;
  int64_t skipped_bad_rows = 0;   // rows skipped because skip_bad_rows was set (or known-malformed, e.g. QQP)
  int64_t skipped_by_rule = 0;    // rows the published setup drops (PAWS "NS" placeholders, ...)
  int64_t empty_texts = 0;        // rows kept with an empty text, as the published readers keep them (NSMC)
  std::vector<std::string> warnings;  // one line each, to print
};

struct FeatureOptions {
  int64_t max_seq_length = 128;
  int64_t doc_stride = 128;        // QA
  int64_t max_query_length = 64;   // QA
};

struct DecodeOptions {
  int64_t n_best = 20;             // QA
  int64_t max_answer_length = 30;  // QA
};

using Metrics = std::map<std::string, double>;  // always holds "main"; NaN: undefined (a correlation of a constant)

// One warning per metric of `metrics` that is NaN ("main" aside), naming it and `where` (a file, or task and split).
std::vector<std::string> undefined_metric_warnings(const Metrics& metrics, const std::string& where);

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual HeadKind head() const = 0;
  // Fixed label list (from the published task definition), empty for regression and QA.
  virtual std::vector<std::string> labels() const = 0;
  // Upstream file names per split; a split that does not exist is absent.
  virtual std::map<Split, std::vector<std::string>> files() const = 0;
  virtual std::vector<std::string> metric_names() const = 0;
  virtual std::string main_metric() const = 0;  // the seed table's column (e.g. "accuracy", "f1", "spearman")

  virtual ReadResult read(const std::filesystem::path& file, const ReadOptions& options) const = 0;
  virtual std::vector<Feature> featurize(const std::vector<Example>& examples, const Tokenizer& tokenizer,
                                         const FeatureOptions& options) const = 0;
  // One prediction string per example, in the format `electra score` reads: label string, float,
  // space-separated tags (NER) or answer text (QA).
  virtual std::vector<std::string> decode(const std::vector<Example>& examples,
                                          const std::vector<Feature>& features,
                                          const std::vector<FeatureOutput>& outputs,
                                          const DecodeOptions& options) const = 0;
  // Metrics (x100) of predictions against examples; "main" is the table column.
  virtual Metrics score(const std::vector<Example>& examples, const std::vector<std::string>& predictions) const = 0;
};

// Explicit registry, filled by register_builtin_tasks(). Names accept '_' for '-'.
const Task& find_task(const std::string& name);  // throws std::invalid_argument listing known names
std::vector<std::string> task_names();           // canonical names, in table order
// Adds every built-in task once (later calls do nothing); find_task and task_names call it themselves.
void register_builtin_tasks();
// Adds one task; throws std::invalid_argument when its name is taken.
void register_task(std::unique_ptr<Task> task);
}  // namespace electra
