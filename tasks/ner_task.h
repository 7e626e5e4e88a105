// Word-level named entity recognition (Naver NER): one sentence per line, `words<TAB>tags`, no header.
// Labels go on the first sub-token of each word; the other sub-tokens and the specials are ignored (-100).
#pragma once

#include <string>
#include <vector>

#include "metrics/entity.h"
#include "tasks/task.h"

namespace electra {

struct NerTaskSpec {
  std::string name, description;
  std::vector<std::string> labels;  // "O" first
  std::map<Split, std::vector<std::string>> files;
  metrics::TagStyle style = metrics::TagStyle::suffix;
};

class NerTask : public Task {
 public:
  explicit NerTask(NerTaskSpec spec) : spec_(std::move(spec)) {}
  std::string name() const override { return spec_.name; }
  std::string description() const override { return spec_.description; }
  HeadKind head() const override { return HeadKind::token_classification; }
  std::vector<std::string> labels() const override { return spec_.labels; }
  std::map<Split, std::vector<std::string>> files() const override { return spec_.files; }
  std::vector<std::string> metric_names() const override { return {"precision", "recall", "f1"}; }
  std::string main_metric() const override { return "f1"; }

  ReadResult read(const std::filesystem::path& file, const ReadOptions& options) const override;
  // One feature per sentence, truncated to max_seq_length; Feature.words_truncated counts the words whose first
  // sub-token did not fit (KoELECTRA drops them from gold and prediction alike).
  std::vector<Feature> featurize(const std::vector<Example>& examples, const Tokenizer& tokenizer,
                                 const FeatureOptions& options) const override;
  // Space-separated tags, one per word that survived truncation.
  std::vector<std::string> decode(const std::vector<Example>& examples, const std::vector<Feature>& features,
                                  const std::vector<FeatureOutput>& outputs,
                                  const DecodeOptions& options) const override;
  // A prediction with fewer tags than its sentence has words is scored against the first words only (the
  // words lost to truncation, as in KoELECTRA); more tags than words is an error.
  Metrics score(const std::vector<Example>& examples, const std::vector<std::string>& predictions) const override;

 private:
  NerTaskSpec spec_;
};

// Whitespace-separated pieces (ASCII whitespace, like Python's str.split() on these files).
std::vector<std::string> split_words(const std::string& text);

}  // namespace electra
