// WordPiece vocabulary training with the rules of Hugging Face tokenizers' BertWordPieceTokenizer.train
// (WordPieceTrainer, which runs BpeTrainer with the continuing-subword prefix "##"): word counts after
// BertNormalizer + BertPreTokenizer; special tokens, then the alphabet (limited to the most frequent characters,
// sorted by code point), then the "##c" tokens of non-first characters, then merges of the most frequent pair
// (ties: the smaller pair of ids) until the vocabulary has `vocab_size` tokens or the best pair is rarer than
// `min_frequency`. The merge queue reproduces tokenizers' (a max-heap with lazy count updates, kept as Rust's
// BinaryHeap keeps it).
//
// Where tokenizers depends on Rust hash-map iteration order, so differs from run to run, this trainer is
// deterministic: the "##c" tokens are added in the order met when words are visited by descending count, then by
// bytes (tokenizers: hash-map order, see `continuation_order`), and characters of equal count at the alphabet limit
// are dropped lowest code point first (tokenizers: an unstable sort). `continuation_order` and `alphabet_kept` take
// both choices from one tokenizers run instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace electra {

struct VocabTrainerOptions {
  int64_t vocab_size = 30000;       // target size, special tokens included
  int64_t min_frequency = 2;        // a merge needs a pair seen at least this often
  int64_t limit_alphabet = 1000;    // keep at most this many characters (the most frequent); 0: no limit
  bool lowercase = true;            // BertNormalizer lowercase
  std::optional<bool> strip_accents;  // absent: follows `lowercase`, as tokenizers' None
  bool chinese_chars = true;        // spaces around CJK ideographs
  std::vector<std::string> special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::string prefix = "##";        // wordpieces_prefix
  // Optional order of the initial "##c" tokens (e.g. read from a vocab.txt tokenizers wrote), to reproduce one
  // tokenizers run exactly; tokens it does not list follow in this trainer's own order.
  std::vector<std::string> continuation_order;
  // Optional characters a tokenizers run kept in its alphabet (the single-character tokens of its vocab.txt): among
  // characters of equal count at limit_alphabet, these are kept and the others dropped (tokenizers' unstable sort
  // decides that tie by hash-map order); the remaining ties fall back to this trainer's rule.
  std::vector<std::string> alphabet_kept;
  int threads = 0;                  // word counting threads; 0: all cores
};

using WordCounts = std::unordered_map<std::string, uint64_t>;

// What count_words saw.
struct WordCountStats {
  uint64_t lines = 0, bytes = 0, words = 0;  // corpus lines and bytes read, words counted
  size_t distinct_words = 0;
  double count_seconds = 0;
};

// What train_vocab did.
struct MergeStats {
  size_t alphabet = 0, alphabet_dropped = 0;  // characters kept, and dropped by limit_alphabet
  size_t continuations = 0;                   // initial "##c" tokens
  size_t merges = 0;
  bool stopped_by_min_frequency = false;      // ended before vocab_size (no pair left or too rare)
  double merge_seconds = 0;
};

// Both, for a caller that passes one object to count_words and then train_vocab (each fills its own part).
struct VocabTrainingStats : WordCountStats, MergeStats {};

// Throws std::invalid_argument naming a bad option (vocab_size, min_frequency or limit_alphabet) and its value.
void check_vocab_options(const VocabTrainerOptions& options);

// Counting (word_counts.cpp). Counts the words of corpus files, streamed line by line with `options.threads` threads (only the counts are
// held). Throws std::runtime_error naming a missing, unreadable or non-regular file, or file:line of invalid UTF-8.
WordCounts count_words(const std::vector<std::filesystem::path>& files, const VocabTrainerOptions& options,
                       WordCountStats* stats = nullptr);
// Counts the words of in-memory lines (one thread). Throws std::runtime_error naming the line of invalid UTF-8.
WordCounts count_words_in_lines(const std::vector<std::string>& lines, const VocabTrainerOptions& options);

// Training (vocab_trainer.cpp). The vocabulary in id order. Throws std::invalid_argument for bad options, or when `vocab_size` is smaller than
// the initial vocabulary (special tokens + alphabet + "##c" tokens).
std::vector<std::string> train_vocab(const WordCounts& counts, const VocabTrainerOptions& options,
                                     MergeStats* stats = nullptr);

// Writes DIR/vocab.txt, DIR/tokenizer_config.json and DIR/special_tokens_map.json (each atomically) for
// Tokenizer::from_dir and transformers' BertTokenizer(Fast).
void write_vocab_dir(const std::filesystem::path& dir, const std::vector<std::string>& vocab,
                     const VocabTrainerOptions& options);

}  // namespace electra
