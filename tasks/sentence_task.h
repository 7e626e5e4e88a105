// Sentence and sentence-pair tasks read from tab-separated files (classification or regression): one adapter
// configured per dataset by which columns hold the texts, the label and the id, found by header name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace electra {

// One way a dataset's files may be laid out. With a header, the layout applies when every named column is
// in the header; without one, `columns` names the positions and rows must have exactly that many cells.
struct ColumnLayout {
  std::string name;                  // shown in messages ("KoELECTRA", "kocohub", ...)
  bool has_header = true;
  std::vector<std::string> columns;  // headerless files only
  std::string text_a, text_b;        // text_b empty: single sentence
  std::string label;                 // label (classification) or score (regression) column
  std::string id;                    // empty: "<file>:<line>"
  bool quoted = false;               // CSV-style double quotes around cells
};

struct SentenceTaskSpec {
  std::string name, description;
  HeadKind head = HeadKind::sequence_classification;  // or regression
  std::vector<std::string> labels;                    // classification only
  std::map<Split, std::vector<std::string>> files;
  std::vector<std::string> metrics;
  std::string main_metric;
  std::vector<ColumnLayout> layouts;  // tried in order; a header matching none is an error
  bool drop_placeholder_pairs = false;  // PAWS: rows whose sentence is empty or "NS" are dropped and counted
  bool skip_malformed_rows = false;     // QQP: rows with the wrong number of cells are skipped and counted
  double min_score = 0.0, max_score = 5.0;  // regression range
};

class SentenceTask : public Task {
 public:
  explicit SentenceTask(SentenceTaskSpec spec);
  std::string name() const override { return spec_.name; }
  std::string description() const override { return spec_.description; }
  HeadKind head() const override { return spec_.head; }
  std::vector<std::string> labels() const override { return spec_.labels; }
  std::map<Split, std::vector<std::string>> files() const override { return spec_.files; }
  std::vector<std::string> metric_names() const override { return spec_.metrics; }
  std::string main_metric() const override { return spec_.main_metric; }

  ReadResult read(const std::filesystem::path& file, const ReadOptions& options) const override;
  std::vector<Feature> featurize(const std::vector<Example>& examples, const Tokenizer& tokenizer,
                                 const FeatureOptions& options) const override;
  std::vector<std::string> decode(const std::vector<Example>& examples, const std::vector<Feature>& features,
                                  const std::vector<FeatureOutput>& outputs,
                                  const DecodeOptions& options) const override;
  Metrics score(const std::vector<Example>& examples, const std::vector<std::string>& predictions) const override;

 private:
  SentenceTaskSpec spec_;
};

// ELECTRA's MRPC / STS trick for training sets: the examples followed by a copy of every pair example with its
// two sentences swapped (single-sentence examples are not copied).
std::vector<Example> with_swapped_pairs(const std::vector<Example>& examples);

}  // namespace electra
