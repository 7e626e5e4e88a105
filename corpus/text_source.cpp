#include "corpus/text_source.h"

#include <fmt/format.h>

#include <exception>
#include <stdexcept>
#include <utility>

#include "corpus/sentences.h"
#include "tokenizer/tokenizer.h"

namespace electra {

namespace fs = std::filesystem;

TextSource::TextSource(const Tokenizer& tokenizer, const CorpusOptions& options, uint64_t seed)
    : tokenizer_(tokenizer),
      options_(options),
      builder_(options, static_cast<int32_t>(tokenizer.cls_id()), static_cast<int32_t>(tokenizer.sep_id()), seed),
      line_format_(options.document_format == "line") {}

void TextSource::open(const fs::path& file) {
  file_ = file;
  line_number_ = 0;
  in_ = std::ifstream(file, std::ios::binary);
  if (!in_) throw std::runtime_error(fmt::format("cannot read {}", file.string()));
  open_ = true;
}

bool TextSource::next(PretrainingExample& out, const std::atomic<bool>* stop) {
  while (true) {
    if (!ready_.empty()) {
      out = std::move(ready_.front());
      ready_.pop_front();
      return true;
    }
    if (!open_) return false;
    if (stop && stop->load(std::memory_order_relaxed)) return false;
    std::string line;
    if (!std::getline(in_, line)) {
      if (in_.bad()) throw std::runtime_error(fmt::format("cannot read {} after line {}", file_.string(), line_number_));
      open_ = false;
      end_document();  // a file ends its last document
      continue;
    }
    ++line_number_;
    ++lines_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      add_line(line);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}, line {}: {}", file_.string(), line_number_, e.what()));
    }
  }
}

void TextSource::add_line(const std::string& line) {
  if (is_blank_line(line)) {
    if (!line_format_) end_document();  // "line" format: blank lines are skipped
    return;
  }
  in_document_ = true;
  if (options_.split_sentences) {
    for (const std::string& sentence : split_sentences(line)) add_sentence(sentence);
  } else {
    add_sentence(line);
  }
  if (line_format_) end_document();
}

void TextSource::add_sentence(const std::string& text) {
  const std::vector<Token> tokens = tokenizer_.tokenize(text);
  ids_.clear();
  for (const Token& t : tokens) ids_.push_back(static_cast<int32_t>(t.id));
  PretrainingExample example;
  if (builder_.add_sentence(ids_, example)) ready_.push_back(std::move(example));
}

void TextSource::end_document() {
  if (in_document_) ++documents_;
  in_document_ = false;
  PretrainingExample example;
  if (builder_.end_document(example)) ready_.push_back(std::move(example));
}

}  // namespace electra
