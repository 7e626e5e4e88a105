#include "tokenizer/vocab_trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#include "common/files.h"
#include "common/stopwatch.h"
#include "common/utf8.h"
#include "tokenizer/bert_words.h"

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
void read_corpus(const std::vector<fs::path>& files, VocabTrainingStats& stats, Sink&& sink) {
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

// ---- the merge queue: Rust's std::collections::BinaryHeap (a max-heap), reproduced so that entries of equal
// priority come out in the order tokenizers' queue gives them.

struct Entry {
  int64_t count;
  uint64_t pair;  // (left id << 32) | right id: compares as the Rust tuple does
  std::vector<uint32_t> pos;  // indices of the words where the pair was seen
};

// tokenizers' Merge ordering: the larger count first, then the smaller pair.
bool less(const Entry& a, const Entry& b) {
  if (a.count != b.count) return a.count < b.count;
  return a.pair > b.pair;
}
bool less_equal(const Entry& a, const Entry& b) { return !less(b, a); }

class MergeQueue {
 public:
  bool empty() const { return data_.empty(); }
  void push(Entry entry) {
    data_.push_back(std::move(entry));
    sift_up(0, data_.size() - 1);
  }
  Entry pop() {
    Entry item = std::move(data_.back());
    data_.pop_back();
    if (!data_.empty()) {
      std::swap(item, data_[0]);
      sift_down_to_bottom(0);
    }
    return item;
  }

 private:
  size_t sift_up(size_t start, size_t pos) {
    Entry hole = std::move(data_[pos]);
    while (pos > start) {
      const size_t parent = (pos - 1) / 2;
      if (less_equal(hole, data_[parent])) break;
      data_[pos] = std::move(data_[parent]);
      pos = parent;
    }
    data_[pos] = std::move(hole);
    return pos;
  }
  void sift_down_to_bottom(size_t pos) {
    const size_t end = data_.size();
    const size_t start = pos;
    Entry hole = std::move(data_[pos]);
    size_t child = 2 * pos + 1;
    while (child + 2 <= end) {  // child <= end - 2
      if (less_equal(data_[child], data_[child + 1])) ++child;
      data_[pos] = std::move(data_[child]);
      pos = child;
      child = 2 * pos + 1;
    }
    if (end > 0 && child == end - 1) {
      data_[pos] = std::move(data_[child]);
      pos = child;
    }
    data_[pos] = std::move(hole);
    sift_up(start, pos);
  }
  std::vector<Entry> data_;
};

inline uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

struct Change {
  uint64_t pair;
  int32_t delta;
  uint32_t word;
};

// tokenizers' Word::merge: every (c1, c2) left to right becomes `replacement`; the pair counts that change.
void merge_word(std::vector<uint32_t>& s, uint32_t c1, uint32_t c2, uint32_t replacement, uint32_t word,
                std::vector<Change>& changes) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != c1 || i + 1 >= s.size() || s[i + 1] != c2) continue;
    const uint32_t first = s[i], second = s[i + 1];
    if (i > 0) {
      changes.push_back({pair_key(s[i - 1], first), -1, word});
      changes.push_back({pair_key(s[i - 1], replacement), 1, word});
    }
    s[i] = replacement;
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    if (i + 1 < s.size()) {
      changes.push_back({pair_key(second, s[i + 1]), -1, word});
      changes.push_back({pair_key(replacement, s[i + 1]), 1, word});
    }
  }
}

// Code points of a valid UTF-8 word.
void decode(std::string_view word, std::vector<char32_t>& out) {
  out.clear();
  if (utf8::decode_all(word, out) != word.size()) {
    throw std::invalid_argument(fmt::format("word '{}' is not valid UTF-8", word));
  }
}

void check_options(const VocabTrainerOptions& options) {
  if (options.vocab_size < 1) {
    throw std::invalid_argument(fmt::format("vocab_size must be positive, got {}", options.vocab_size));
  }
  if (options.vocab_size > int64_t{1} << 31) {
    throw std::invalid_argument(fmt::format("vocab_size {} is too large", options.vocab_size));
  }
  if (options.min_frequency < 0) {
    throw std::invalid_argument(fmt::format("min_frequency must be >= 0, got {}", options.min_frequency));
  }
  if (options.limit_alphabet < 0) {
    throw std::invalid_argument(
        fmt::format("limit_alphabet must be >= 0 (0: no limit), got {}", options.limit_alphabet));
  }
}

}  // namespace

WordCounts count_words(const std::vector<fs::path>& files, const VocabTrainerOptions& options,
                       VocabTrainingStats* stats_out) {
  check_options(options);
  if (files.empty()) throw std::invalid_argument("no corpus files given");
  for (const fs::path& file : files) check_corpus_file(file);
  VocabTrainingStats stats;
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
    for (WordCounts& p : partial) merge_counts(counts, std::move(p));
  }
  for (const auto& [word, count] : counts) stats.words += count;
  stats.distinct_words = counts.size();
  stats.count_seconds = watch.seconds();
  if (stats_out) {
    stats_out->lines = stats.lines;
    stats_out->bytes = stats.bytes;
    stats_out->words = stats.words;
    stats_out->distinct_words = stats.distinct_words;
    stats_out->count_seconds = stats.count_seconds;
  }
  return counts;
}

WordCounts count_words_in_lines(const std::vector<std::string>& lines, const VocabTrainerOptions& options) {
  check_options(options);
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

std::vector<std::string> train_vocab(const WordCounts& counts, const VocabTrainerOptions& options,
                                     VocabTrainingStats* stats_out) {
  check_options(options);
  VocabTrainingStats stats;
  const Stopwatch watch;
  std::vector<std::string> id_to_word;
  std::unordered_map<std::string, uint32_t> word_to_id;
  word_to_id.reserve(static_cast<size_t>(options.vocab_size) * 2);
  auto add = [&](const std::string& token) {
    const auto [it, inserted] = word_to_id.emplace(token, static_cast<uint32_t>(id_to_word.size()));
    if (inserted) id_to_word.push_back(token);
    return it->second;
  };

  // 1. Special tokens.
  for (const std::string& token : options.special_tokens) add(token);
  const size_t specials = id_to_word.size();

  // Words by descending count, then bytes: this trainer's fixed stand-in for tokenizers' hash-map order.
  std::vector<std::pair<const std::string*, uint64_t>> order;
  order.reserve(counts.size());
  for (const auto& [word, count] : counts) order.emplace_back(&word, count);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : *a.first < *b.first;
  });
  std::vector<std::vector<char32_t>> chars(order.size());
  for (size_t i = 0; i < order.size(); ++i) decode(*order[i].first, chars[i]);

  // 2. The alphabet: characters counted by word frequency, the rarest dropped beyond limit_alphabet.
  std::unordered_map<char32_t, uint64_t> alphabet;
  for (size_t i = 0; i < order.size(); ++i) {
    for (const char32_t c : chars[i]) alphabet[c] += order[i].second;
  }
  std::vector<std::pair<char32_t, uint64_t>> kept(alphabet.begin(), alphabet.end());
  const size_t limit = static_cast<size_t>(options.limit_alphabet);
  if (limit > 0 && kept.size() > limit) {
    std::unordered_set<char32_t> preferred;  // kept by the reference run: dropped last among equal counts
    std::vector<char32_t> cps;
    for (const std::string& token : options.alphabet_kept) {
      decode(token, cps);
      if (cps.size() == 1) preferred.insert(cps[0]);
    }
    std::sort(kept.begin(), kept.end(), [&](const auto& a, const auto& b) {
      if (a.second != b.second) return a.second < b.second;
      const bool pa = preferred.count(a.first) > 0, pb = preferred.count(b.first) > 0;
      return pa != pb ? pb : a.first < b.first;
    });
    stats.alphabet_dropped = kept.size() - limit;
    kept.erase(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(stats.alphabet_dropped));
  }
  std::sort(kept.begin(), kept.end());
  for (const auto& [c, count] : kept) add(utf8::encode(c));
  stats.alphabet = kept.size();

  // 3. Words as symbol ids: the first character alone, the others as "##c" (added as met); dropped characters skipped.
  auto symbol = [&](char32_t c, bool first) -> std::optional<std::string> {
    std::string s = utf8::encode(c);
    if (!word_to_id.count(s)) return std::nullopt;
    return first ? s : options.prefix + s;
  };
  if (!options.continuation_order.empty()) {
    std::unordered_map<std::string, bool> met;
    for (const auto& word : chars) {
      for (size_t j = 1; j < word.size(); ++j) {
        if (auto s = symbol(word[j], false)) met[*s] = true;
      }
    }
    for (const std::string& token : options.continuation_order) {
      if (met.count(token)) add(token);
    }
  }
  std::vector<std::vector<uint32_t>> words(order.size());
  std::vector<int64_t> word_counts(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    word_counts[i] = static_cast<int64_t>(order[i].second);
    words[i].reserve(chars[i].size());
    for (size_t j = 0; j < chars[i].size(); ++j) {
      if (auto s = symbol(chars[i][j], j == 0)) words[i].push_back(add(*s));
    }
  }
  chars.clear();
  chars.shrink_to_fit();
  stats.continuations = id_to_word.size() - specials - stats.alphabet;
  if (static_cast<int64_t>(id_to_word.size()) > options.vocab_size) {
    throw std::invalid_argument(fmt::format(
        "vocabulary size {} is smaller than the initial vocabulary: {} special tokens + {} alphabet characters + {} "
        "'{}' continuation characters = {}; ask for at least {} (or lower --limit-alphabet)",
        options.vocab_size, specials, stats.alphabet, stats.continuations, options.prefix, id_to_word.size(),
        id_to_word.size()));
  }

  // 4. Pair counts and where each pair is.
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where;
  for (size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    for (size_t j = 0; j + 1 < w.size(); ++j) {
      const uint64_t pair = pair_key(w[j], w[j + 1]);
      pair_counts[pair] += word_counts[i];
      auto& pos = where[pair];
      if (pos.empty() || pos.back() != i) pos.push_back(static_cast<uint32_t>(i));
    }
  }
  MergeQueue queue;
  {
    std::vector<std::pair<uint64_t, std::vector<uint32_t>>> initial(std::make_move_iterator(where.begin()),
                                                                     std::make_move_iterator(where.end()));
    where.clear();
    std::sort(initial.begin(), initial.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [pair, pos] : initial) {
      const int64_t count = pair_counts[pair];
      if (count > 0) queue.push(Entry{count, pair, std::move(pos)});
    }
  }

  // 5. Merges.
  std::vector<Change> changes;
  std::vector<std::pair<uint64_t, std::vector<uint32_t>>> fresh;  // new positions, in the order first met
  std::unordered_map<uint64_t, size_t> fresh_index;
  while (static_cast<int64_t>(word_to_id.size()) < options.vocab_size) {
    if (queue.empty()) {
      stats.stopped_by_min_frequency = true;
      break;
    }
    Entry top = queue.pop();
    const int64_t current = pair_counts[top.pair];
    if (top.count != current) {
      top.count = current;
      queue.push(std::move(top));
      continue;
    }
    if (top.count < 1 || options.min_frequency > top.count) {
      stats.stopped_by_min_frequency = true;
      break;
    }
    const uint32_t left = static_cast<uint32_t>(top.pair >> 32), right = static_cast<uint32_t>(top.pair);
    std::string_view right_text = id_to_word[right];
    if (!options.prefix.empty() && right_text.substr(0, options.prefix.size()) == options.prefix) {
      right_text.remove_prefix(options.prefix.size());
    }
    const uint32_t id = add(id_to_word[left] + std::string(right_text));
    ++stats.merges;

    changes.clear();
    for (const uint32_t i : top.pos) merge_word(words[i], left, right, id, i, changes);
    fresh.clear();
    fresh_index.clear();
    for (const Change& change : changes) {
      pair_counts[change.pair] += change.delta * word_counts[change.word];
      if (change.delta > 0) {
        const auto [it, inserted] = fresh_index.emplace(change.pair, fresh.size());
        if (inserted) fresh.emplace_back(change.pair, std::vector<uint32_t>());
        auto& pos = fresh[it->second].second;
        if (pos.empty() || pos.back() != change.word) pos.push_back(change.word);  // a word's changes are adjacent
      }
    }
    for (auto& [pair, pos] : fresh) {
      const int64_t count = pair_counts[pair];
      if (count > 0) queue.push(Entry{count, pair, std::move(pos)});
    }
  }
  stats.merge_seconds = watch.seconds();
  if (stats_out) {
    stats_out->alphabet = stats.alphabet;
    stats_out->alphabet_dropped = stats.alphabet_dropped;
    stats_out->continuations = stats.continuations;
    stats_out->merges = stats.merges;
    stats_out->stopped_by_min_frequency = stats.stopped_by_min_frequency;
    stats_out->merge_seconds = stats.merge_seconds;
  }
  return id_to_word;
}

void write_vocab_dir(const fs::path& dir, const std::vector<std::string>& vocab, const VocabTrainerOptions& options) {
  std::string text;
  for (const std::string& token : vocab) {
    if (token.find('\n') != std::string::npos) {
      throw std::invalid_argument(fmt::format("token '{}' holds a line break and cannot be written to vocab.txt", token));
    }
    text += token;
    text += '\n';
  }
  // The first five special tokens are taken as pad, unk, cls, sep, mask (BertWordPieceTokenizer's order).
  auto special = [&](size_t i, const char* fallback) {
    return i < options.special_tokens.size() ? options.special_tokens[i] : std::string(fallback);
  };
  nlohmann::ordered_json map = {{"unk_token", special(1, "[UNK]")},
                                {"sep_token", special(3, "[SEP]")},
                                {"pad_token", special(0, "[PAD]")},
                                {"cls_token", special(2, "[CLS]")},
                                {"mask_token", special(4, "[MASK]")}};
  nlohmann::ordered_json config = {{"do_lower_case", options.lowercase}};
  config["strip_accents"] = options.strip_accents ? nlohmann::ordered_json(*options.strip_accents) : nullptr;
  config["tokenize_chinese_chars"] = options.chinese_chars;
  config["model_max_length"] = 512;
  config["tokenizer_class"] = "BertTokenizer";
  for (const auto& [key, value] : map.items()) config[key] = value;
  write_file_atomic(dir / "vocab.txt", text);
  write_file_atomic(dir / "tokenizer_config.json", config.dump(2) + "\n");
  write_file_atomic(dir / "special_tokens_map.json", map.dump(2) + "\n");
}

}  // namespace electra
