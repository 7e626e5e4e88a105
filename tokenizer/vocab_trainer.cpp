#include "tokenizer/vocab_trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <unordered_set>

#include "common/files.h"
#include "common/limits.h"
#include "common/stopwatch.h"
#include "common/utf8.h"
#include "tokenizer/merge_queue.h"

namespace electra {
namespace {

namespace fs = std::filesystem;
using merge_queue::Entry;
using merge_queue::MergeQueue;
using merge_queue::pair_key;

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

// The vocabulary being built: tokens in id order, and their ids.
class Vocabulary {
 public:
  void reserve(size_t capacity) { ids_.reserve(capacity); }
  uint32_t add(const std::string& token) {
    const auto [it, inserted] = ids_.emplace(token, static_cast<uint32_t>(tokens_.size()));
    if (inserted) tokens_.push_back(token);
    return it->second;
  }
  bool contains(const std::string& token) const { return ids_.count(token) > 0; }
  const std::string& token(uint32_t id) const { return tokens_[id]; }
  size_t size() const { return tokens_.size(); }
  std::vector<std::string> release() { return std::move(tokens_); }

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, uint32_t> ids_;
};

// The corpus words as code points with their counts, by descending count, then bytes: this trainer's fixed
// stand-in for tokenizers' hash-map order.
struct CorpusWords {
  std::vector<std::vector<char32_t>> chars;
  std::vector<uint64_t> counts;
};

CorpusWords sorted_words(const WordCounts& counts) {
  std::vector<std::pair<const std::string*, uint64_t>> order;
  order.reserve(counts.size());
  for (const auto& [word, count] : counts) order.emplace_back(&word, count);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : *a.first < *b.first;
  });
  CorpusWords words;
  words.chars.resize(order.size());
  words.counts.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    decode(*order[i].first, words.chars[i]);
    words.counts[i] = order[i].second;
  }
  return words;
}

// The alphabet, sorted by code point: characters counted by word frequency, the rarest dropped beyond
// limit_alphabet (among equal counts, those not in alphabet_kept first, then the lowest code point).
std::vector<char32_t> choose_alphabet(const CorpusWords& words, const VocabTrainerOptions& options,
                                      MergeStats& stats) {
  std::unordered_map<char32_t, uint64_t> alphabet;
  for (size_t i = 0; i < words.chars.size(); ++i) {
    for (const char32_t c : words.chars[i]) alphabet[c] += words.counts[i];
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
  std::vector<char32_t> out;
  for (const auto& [c, count] : kept) out.push_back(c);
  stats.alphabet = out.size();
  return out;
}

// The words as symbol ids, with their counts.
struct SymbolWords {
  std::vector<std::vector<uint32_t>> ids;
  std::vector<int64_t> counts;
};

// Words as symbol ids: the first character alone, the others as "##c" (added to `vocab` as met, after those of
// continuation_order); characters dropped from the alphabet skipped.
SymbolWords to_symbols(const CorpusWords& corpus, const VocabTrainerOptions& options, Vocabulary& vocab) {
  auto symbol = [&](char32_t c, bool first) -> std::optional<std::string> {
    std::string s = utf8::encode(c);
    if (!vocab.contains(s)) return std::nullopt;
    return first ? s : options.prefix + s;
  };
  if (!options.continuation_order.empty()) {
    std::unordered_map<std::string, bool> met;
    for (const auto& word : corpus.chars) {
      for (size_t j = 1; j < word.size(); ++j) {
        if (auto s = symbol(word[j], false)) met[*s] = true;
      }
    }
    for (const std::string& token : options.continuation_order) {
      if (met.count(token)) vocab.add(token);
    }
  }
  SymbolWords words;
  words.ids.resize(corpus.chars.size());
  words.counts.resize(corpus.chars.size());
  for (size_t i = 0; i < corpus.chars.size(); ++i) {
    const auto& chars = corpus.chars[i];
    words.counts[i] = static_cast<int64_t>(corpus.counts[i]);
    words.ids[i].reserve(chars.size());
    for (size_t j = 0; j < chars.size(); ++j) {
      if (auto s = symbol(chars[j], j == 0)) words.ids[i].push_back(vocab.add(*s));
    }
  }
  return words;
}

using PairCounts = std::unordered_map<uint64_t, int64_t>;

// Queues each pair of `pairs` (pair, positions) that is still seen, with its current count.
void push_seen(std::vector<std::pair<uint64_t, std::vector<uint32_t>>>& pairs, PairCounts& pair_counts,
               MergeQueue& queue) {
  for (auto& [pair, pos] : pairs) {
    const int64_t count = pair_counts[pair];
    if (count > 0) queue.push(Entry{count, pair, std::move(pos)});
  }
}

// Pair counts and where each pair is, queued by pair.
MergeQueue initial_queue(const SymbolWords& words, PairCounts& pair_counts) {
  std::unordered_map<uint64_t, std::vector<uint32_t>> where;
  for (size_t i = 0; i < words.ids.size(); ++i) {
    const auto& w = words.ids[i];
    for (size_t j = 0; j + 1 < w.size(); ++j) {
      const uint64_t pair = pair_key(w[j], w[j + 1]);
      pair_counts[pair] += words.counts[i];
      auto& pos = where[pair];
      if (pos.empty() || pos.back() != i) pos.push_back(static_cast<uint32_t>(i));
    }
  }
  std::vector<std::pair<uint64_t, std::vector<uint32_t>>> initial(std::make_move_iterator(where.begin()),
                                                                   std::make_move_iterator(where.end()));
  where.clear();
  std::sort(initial.begin(), initial.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  MergeQueue queue;
  push_seen(initial, pair_counts, queue);
  return queue;
}

// The merge loop: the most frequent pair becomes a token, until the vocabulary is full or the best pair is rarer
// than min_frequency (or none is left).
class Merger {
 public:
  Merger(const VocabTrainerOptions& options, Vocabulary& vocab, SymbolWords& words, MergeStats& stats)
      : options_(options), vocab_(vocab), words_(words), stats_(stats), queue_(initial_queue(words, pair_counts_)) {}

  void run() {
    while (static_cast<int64_t>(vocab_.size()) < options_.vocab_size) {
      if (queue_.empty()) {
        stats_.stopped_by_min_frequency = true;
        return;
      }
      Entry top = queue_.pop();
      const int64_t current = pair_counts_[top.pair];
      if (top.count != current) {
        top.count = current;
        queue_.push(std::move(top));
        continue;
      }
      if (top.count < 1 || options_.min_frequency > top.count) {
        stats_.stopped_by_min_frequency = true;
        return;
      }
      merge(top);
    }
  }

 private:
  // Adds the token of `top`'s pair and replaces the pair in every word that has it, queueing the pairs that appear.
  void merge(const Entry& top) {
    const uint32_t left = static_cast<uint32_t>(top.pair >> 32), right = static_cast<uint32_t>(top.pair);
    std::string_view right_text = vocab_.token(right);
    if (!options_.prefix.empty() && right_text.substr(0, options_.prefix.size()) == options_.prefix) {
      right_text.remove_prefix(options_.prefix.size());
    }
    const uint32_t id = vocab_.add(vocab_.token(left) + std::string(right_text));
    ++stats_.merges;

    changes_.clear();
    for (const uint32_t i : top.pos) merge_word(words_.ids[i], left, right, id, i, changes_);
    fresh_.clear();
    fresh_index_.clear();
    for (const Change& change : changes_) {
      pair_counts_[change.pair] += change.delta * words_.counts[change.word];
      if (change.delta > 0) {
        const auto [it, inserted] = fresh_index_.emplace(change.pair, fresh_.size());
        if (inserted) fresh_.emplace_back(change.pair, std::vector<uint32_t>());
        auto& pos = fresh_[it->second].second;
        if (pos.empty() || pos.back() != change.word) pos.push_back(change.word);  // a word's changes are adjacent
      }
    }
    push_seen(fresh_, pair_counts_, queue_);
  }

  const VocabTrainerOptions& options_;
  Vocabulary& vocab_;
  SymbolWords& words_;
  MergeStats& stats_;
  PairCounts pair_counts_;
  MergeQueue queue_;
  std::vector<Change> changes_;
  std::vector<std::pair<uint64_t, std::vector<uint32_t>>> fresh_;  // new positions, in the order first met
  std::unordered_map<uint64_t, size_t> fresh_index_;
};

}  // namespace

void check_vocab_options(const VocabTrainerOptions& options) {
  if (options.vocab_size < 1) {
    throw std::invalid_argument(fmt::format("vocab_size (--size) must be positive, got {}", options.vocab_size));
  }
  if (options.vocab_size > limits::kVocabSize) {  // the largest vocab_size a model's config.json may have
    throw std::invalid_argument(
        fmt::format("vocab_size (--size) {} is {}", options.vocab_size, limits::above(limits::kVocabSize)));
  }
  if (options.min_frequency < 0) {
    throw std::invalid_argument(fmt::format("min_frequency must be >= 0, got {}", options.min_frequency));
  }
  if (options.limit_alphabet < 0) {
    throw std::invalid_argument(
        fmt::format("limit_alphabet must be >= 0 (0: no limit), got {}", options.limit_alphabet));
  }
}

std::vector<std::string> train_vocab(const WordCounts& counts, const VocabTrainerOptions& options,
                                     MergeStats* stats_out) {
  check_vocab_options(options);
  MergeStats stats;
  const Stopwatch watch;
  Vocabulary vocab;
  for (const std::string& token : options.special_tokens) vocab.add(token);
  const size_t specials = vocab.size();
  SymbolWords words;
  {
    const CorpusWords corpus = sorted_words(counts);
    for (const char32_t c : choose_alphabet(corpus, options, stats)) vocab.add(utf8::encode(c));
    words = to_symbols(corpus, options, vocab);
  }
  stats.continuations = vocab.size() - specials - stats.alphabet;
  if (static_cast<int64_t>(vocab.size()) > options.vocab_size) {
    throw std::invalid_argument(fmt::format(
        "vocabulary size {} is smaller than the initial vocabulary: {} special tokens + {} alphabet characters + {} "
        "'{}' continuation characters = {}; ask for at least {} (or lower --limit-alphabet)",
        options.vocab_size, specials, stats.alphabet, stats.continuations, options.prefix, vocab.size(),
        vocab.size()));
  }
  // Room for the tokens the corpus can yield, not for what was asked: each merge joins two symbols of some word, so
  // there are at most as many merges as symbols (a --size of 2e9 on a small corpus costs nothing up front).
  size_t symbols = 0;
  for (const auto& w : words.ids) symbols += w.size();
  vocab.reserve(static_cast<size_t>(std::min<int64_t>(options.vocab_size, static_cast<int64_t>(vocab.size() + symbols))));
  Merger(options, vocab, words, stats).run();
  stats.merge_seconds = watch.seconds();
  if (stats_out) *stats_out = stats;
  return vocab.release();
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
