// Examples from UTF-8 text files: read line by line, split into documents and sentences, tokenized and packed by an
// ExampleBuilder. Internal to corpus/ (PretrainingStream and prepare_shards pull from it).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "corpus/corpus_options.h"
#include "corpus/example_builder.h"

namespace electra {

class Tokenizer;

// A pull interface over text files; each file ends a document. `tokenizer` and `options` must outlive it.
class TextSource {
 public:
  TextSource(const Tokenizer& tokenizer, const CorpusOptions& options, uint64_t seed);

  // Starts reading `file` (a previous one must be exhausted). Throws std::runtime_error("cannot read <file>").
  void open(const std::filesystem::path& file);
  // The next example of the open file; false at its end. `stop` is polled between lines. Throws std::runtime_error
  // naming the file and line of what cannot be read or tokenized.
  bool next(PretrainingExample& out, const std::atomic<bool>* stop = nullptr);

  int64_t lines() const { return lines_; }          // lines read, over every file
  int64_t documents() const { return documents_; }  // documents with at least one non-blank line

 private:
  void add_line(const std::string& line);
  void add_sentence(const std::string& text);
  void end_document();

  const Tokenizer& tokenizer_;
  const CorpusOptions& options_;
  ExampleBuilder builder_;
  bool line_format_;
  std::filesystem::path file_;
  std::ifstream in_;
  bool open_ = false, in_document_ = false;
  int64_t line_number_ = 0, lines_ = 0, documents_ = 0;
  std::vector<int32_t> ids_;
  std::deque<PretrainingExample> ready_;
};

}  // namespace electra
