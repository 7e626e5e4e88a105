// Extractive question answering in SQuAD v1.1 JSON (KorQuAD 1.0): sliding windows over the context, answer
// character spans mapped to token spans through the tokenizer's offsets, and the best span over all windows
// mapped back to the original context text.
#pragma once

#include <string>
#include <vector>

#include "metrics/qa.h"
#include "tasks/task.h"

namespace electra {

struct QaTaskSpec {
  std::string name, description;
  std::map<Split, std::vector<std::string>> files;
  metrics::QaRules rules = metrics::QaRules::korquad;
};

class QaTask : public Task {
 public:
  explicit QaTask(QaTaskSpec spec) : spec_(std::move(spec)) {}
  std::string name() const override { return spec_.name; }
  std::string description() const override { return spec_.description; }
  HeadKind head() const override { return HeadKind::span_extraction; }
  std::vector<std::string> labels() const override { return {}; }
  std::map<Split, std::vector<std::string>> files() const override { return spec_.files; }
  std::vector<std::string> metric_names() const override { return {"exact_match", "f1"}; }
  std::string main_metric() const override { return "f1"; }

  // One example per question: text_a = question, text_b = context, answers with code point starts (checked
  // against the context). Example.line is 0 (JSON); bad entries are named by their JSON path.
  ReadResult read(const std::filesystem::path& file, const ReadOptions& options) const override;
  // BERT's windows: [CLS] query [SEP] context piece [SEP], the query cut to max_query_length, consecutive
  // windows starting doc_stride tokens apart. Targets from the first answer; a window without it points at 0.
  std::vector<Feature> featurize(const std::vector<Example>& examples, const Tokenizer& tokenizer,
                                 const FeatureOptions& options) const override;
  // Best start + end logit over all windows among the n_best starts and ends of each window, with
  // start <= end, both in the context, at most max_answer_length tokens, and the start token in the window
  // where it has the most context (as BERT's run_squad does). Empty when no span qualifies.
  std::vector<std::string> decode(const std::vector<Example>& examples, const std::vector<Feature>& features,
                                  const std::vector<FeatureOutput>& outputs,
                                  const DecodeOptions& options) const override;
  Metrics score(const std::vector<Example>& examples, const std::vector<std::string>& predictions) const override;
  // The same with questions that have no prediction (they score 0).
  Metrics score(const std::vector<Example>& examples,
                const std::vector<std::optional<std::string>>& predictions) const;

 private:
  QaTaskSpec spec_;
};

}  // namespace electra
