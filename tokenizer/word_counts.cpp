// count_words: corpus files read line by line on one thread, split into words by BertNormalizer +
// BertPreTokenizer and counted on the others; only the counts are held.
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "common/stopwatch.h"
#include "common/utf8.h"
#include "tokenizer/bert_words.h"
#include "tokenizer/vocab_trainer.h"

namespace electra {
namespace {

namespace fs = std::filesystem;

BertNormalizerOptions normalizer_options(const VocabTrainerOptions& options) {
  return BertNormalizerOptions{options.lowercase, options.strip_accents.value_or(options.lowercase),
                               options.chinese_chars};
}

void count_line(const BertWordSplitter& splitter, std::string_view line, Words& words, WordCounts& counts) {
  words.clear();
  splitter.split(line, words);
  for (size_t i = 0; i < words.size(); ++i) ++counts[std::string(words[i])];
}

void check_corpus_file(const fs::path& file) {
  std::error_code ec;
  const auto status = fs::status(file, ec);
  if (ec || !fs::exists(status)) {
    throw std::runtime_error(fmt::format("cannot read corpus file {}: {}", file.string(),
                                         ec ? ec.message() : "No such file or directory"));
  }
  if (fs::is_directory(status)) {
    throw std::runtime_error(fmt::format("cannot read corpus file {}: it is a directory; give text files",
                                         file.string()));
  }
  if (!fs::is_regular_file(status)) {
    throw std::runtime_error(fmt::format("cannot read corpus file {}: not a regular file", file.string()));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read corpus file {}: permission denied or unreadable",
                                                file.string()));
}

// Lines handed from the reader to the counting threads.
struct Batch {
  std::vector<std::string> lines;
  size_t bytes = 0;
};

class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}
  void push(Batch batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < capacity_; });
    queue_.push_back(std::move(batch));
    not_empty_.notify_one();
  }
  bool pop(Batch& batch) {  // false once closed and drained
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return false;
    batch = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Batch> queue_;
  size_t capacity_;
  bool closed_ = false;
};

constexpr size_t kBatchBytes = 1 << 20;

// Reads every file line by line (the line ending is whitespace to the pre-tokenizer), checking UTF-8, and hands
// batches to `sink`.
template <class Sink>
void read_corpus(const std::vector<fs::path>& files, WordCountStats& stats, Sink&& sink) {
  Batch batch;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("cannot read corpus file {}", file.string()));
    uint64_t line_number = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_number;
      const size_t bad = utf8::find_invalid(line);
      if (bad != line.size()) {
        throw std::runtime_error(fmt::format("{}:{}: invalid UTF-8 at byte {} of the line (byte 0x{:02X})",
                                             file.string(), line_number, bad + 1,
                                             static_cast<unsigned char>(line[bad])));
      }
      stats.bytes += line.size() + 1;
      batch.bytes += line.size();
      batch.lines.push_back(std::move(line));
      if (batch.bytes >= kBatchBytes) {
        sink(std::move(batch));
        batch = Batch();
      }
    }
    if (in.bad()) throw std::runtime_error(fmt::format("error reading corpus file {}", file.string()));
    stats.lines += line_number;
  }
  if (!batch.lines.empty()) sink(std::move(batch));
}

void merge_counts(WordCounts& into, WordCounts&& from) {
  if (into.empty()) {
    into = std::move(from);
    return;
  }
  for (auto& [word, count] : from) into[word] += count;
}

// One reader thread hands batches of lines to `threads` counting threads; their counts are merged at the end.
WordCounts count_in_threads(const std::vector<fs::path>& files, const BertWordSplitter& splitter, int threads,
                            WordCountStats& stats) {
  BatchQueue queue(static_cast<size_t>(threads) * 2);
  std::vector<WordCounts> partial(static_cast<size_t>(threads));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (size_t t = 0; t < partial.size(); ++t) {
    workers.emplace_back([&, t] {
      try {
        Words words;
        for (Batch batch; queue.pop(batch);) {
          for (const std::string& line : batch.lines) count_line(splitter, line, words, partial[t]);
        }
      } catch (...) {
        errors[t] = std::current_exception();
        for (Batch batch; queue.pop(batch);) {  // keep draining so that the reader never blocks
        }
      }
    });
  }
  std::exception_ptr read_error;
  try {
    read_corpus(files, stats, [&](Batch batch) { queue.push(std::move(batch)); });
  } catch (...) {
    read_error = std::current_exception();
  }
  queue.close();
  for (std::thread& worker : workers) worker.join();
  if (read_error) std::rethrow_exception(read_error);
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  // The largest map absorbs the others.
  std::sort(partial.begin(), partial.end(), [](const WordCounts& a, const WordCounts& b) { return a.size() > b.size(); });
  WordCounts counts;
  for (WordCounts& p : partial) merge_counts(counts, std::move(p));
  return counts;
}

}  // namespace

WordCounts count_words(const std::vector<fs::path>& files, const VocabTrainerOptions& options,
                       WordCountStats* stats_out) {
  check_vocab_options(options);
  if (files.empty()) throw std::invalid_argument("no corpus files given");
  for (const fs::path& file : files) check_corpus_file(file);
  WordCountStats stats;
  const Stopwatch watch;
  const BertWordSplitter splitter(normalizer_options(options));
  const unsigned cores = std::thread::hardware_concurrency();
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(cores > 0 ? cores : 1);
  WordCounts counts;
  if (threads <= 1) {
    Words words;
    read_corpus(files, stats, [&](Batch batch) {
      for (const std::string& line : batch.lines) count_line(splitter, line, words, counts);
    });
  } else {
    counts = count_in_threads(files, splitter, threads, stats);
  }
  for (const auto& [word, count] : counts) stats.words += count;
  stats.distinct_words = counts.size();
  stats.count_seconds = watch.seconds();
  if (stats_out) *stats_out = stats;
  return counts;
}

WordCounts count_words_in_lines(const std::vector<std::string>& lines, const VocabTrainerOptions& options) {
  check_vocab_options(options);
  const BertWordSplitter splitter(normalizer_options(options));
  WordCounts counts;
  Words words;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (utf8::find_invalid(lines[i]) != lines[i].size()) {
      throw std::runtime_error(fmt::format("line {}: invalid UTF-8", i + 1));
    }
    count_line(splitter, lines[i], words, counts);
  }
  return counts;
}

}  // namespace electra
