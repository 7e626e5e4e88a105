// The tokenizers pipeline for models other than WordPiece (byte-level BPE, Unigram): normalizers, pre-tokenizers
// and the model, applied to the text between special tokens the way Hugging Face `tokenizers` applies them, with
// the same alignments (NormalizedString's rules), so tokens, ids and offsets come out identical.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace electra {

struct Token;

namespace pipeline {

// A normalized character and the original code points [begin, end) it is aligned with (tokenizers aligns each
// normalized character with one original character, or with none: [0, 0)).
struct Char {
  char32_t cp;
  uint32_t begin, end;
};
using Chars = std::vector<Char>;

// sentencepiece's precompiled normalization rules (a `Precompiled` normalizer's charsmap): a darts-clone double
// array over UTF-8 keys whose values index NUL-terminated replacements.
class Charsmap {
 public:
  // The decoded charsmap; throws std::invalid_argument when it is malformed.
  explicit Charsmap(const std::string& bytes);
  // The replacement of the shortest key that prefixes `chunk` (sentencepiece's and tokenizers' choice), if any.
  bool transform(std::string_view chunk, std::string_view& replacement) const;

 private:
  std::vector<uint32_t> units_;
  std::string normalized_;
};

// One normalizer step (tokenizers' normalizer types; Sequence is flattened when reading tokenizer.json).
struct Normalizer {
  enum class Kind { lowercase, replace, strip, prepend, nmt, precompiled } kind = Kind::lowercase;
  std::shared_ptr<const Charsmap> charsmap;  // precompiled
  // replace: a literal `pattern` or, when `min_repeat` > 0, a run of at least min_repeat copies of the one
  // character of `pattern` (the regex "c{n,}" or "c+").
  std::u32string pattern, content;
  size_t min_repeat = 0;
  bool left = false, right = false;  // strip
};

struct PreTokenizer {
  enum class Kind { byte_level, metaspace, whitespace_split } kind = Kind::byte_level;
  bool add_prefix_space = false;  // byte_level
  bool use_regex = true;          // byte_level: GPT-2's split
  char32_t replacement = U'\u2581';  // metaspace
  enum class Prepend { always, first, never } prepend = Prepend::always;
  bool split = true;  // metaspace
};

// A model's token inside one pre-tokenized word: its id, its text, and the characters [from, to) of the word.
struct Piece {
  int64_t id;
  std::string text;
  size_t from, to;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the pieces of one pre-tokenized word (normalized characters, not empty).
  virtual void tokenize(const Chars& word, std::vector<Piece>& out) const = 0;
};

// Byte-level BPE as tokenizers runs it (merges by rank, leftmost first; no dropout).
class BpeModel : public Model {
 public:
  // `merges` in rank order; ids are the vocabulary's. Throws std::invalid_argument naming a merge whose parts or
  // result are not in the vocabulary.
  BpeModel(std::unordered_map<std::string, int64_t> vocab, std::vector<std::string> id_to_token,
           const std::vector<std::pair<std::string, std::string>>& merges, std::string unk_token, bool fuse_unk,
           bool ignore_merges);
  void tokenize(const Chars& word, std::vector<Piece>& out) const override;

 private:
  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, std::pair<uint32_t, int64_t>> merges_;  // (left << 32 | right) -> (rank, new id)
  int64_t unk_id_ = -1;
  bool fuse_unk_ = false, ignore_merges_ = false;
};

// Unigram (sentencepiece) with tokenizers' Viterbi (encode_optimized): unknown characters score the lowest
// score minus 10 and adjacent ones fuse into one token that keeps its text.
class UnigramModel : public Model {
 public:
  UnigramModel(std::vector<std::pair<std::string, double>> pieces, int64_t unk_id);
  void tokenize(const Chars& word, std::vector<Piece>& out) const override;

 private:
  std::vector<std::pair<std::string, double>> pieces_;
  std::unordered_map<std::string_view, int64_t> ids_;  // views into pieces_
  size_t max_chars_ = 1;  // longest piece in code points
  int64_t unk_id_;
  double unk_score_;
};

struct Pipeline {
  std::string model_type;  // tokenizer.json's model.type: BPE or Unigram
  std::vector<Normalizer> normalizers;
  std::vector<PreTokenizer> pre_tokenizers;
  std::unique_ptr<Model> model;
  bool trim_offsets = false;  // RobertaProcessing / ByteLevel post-processor: offsets without leading/trailing spaces
  bool trim_add_prefix_space = false;  // the post-processor's add_prefix_space (keeps a first single space)

  // Appends the tokens of `text` (valid UTF-8 between special tokens, starting at code point `at` of the
  // sequence); offsets are code points of the sequence. `word_start` (when given) receives, per token, whether it
  // begins a pre-tokenized word.
  void tokenize(std::string_view text, uint32_t at, std::vector<Token>& out, std::vector<bool>* word_start) const;
};

// RobertaProcessing's trim_offsets on one token (`first`: the first token of its sequence).
void trim(Token& token, bool first, bool add_prefix_space);
// Text of a code point sequence as UTF-8.
std::string to_utf8(const char32_t* cps, size_t n);
// Rust's char::is_whitespace (Unicode White_Space).
bool is_white_space(char32_t cp);

// Normalizer and pre-tokenizer steps (normalizers.cpp, pre_tokenizers.cpp).
// `origin`: the code point where the text starts (an inserted character with nothing before it aligns there).
void normalize(const Normalizer& step, Chars& chars, uint32_t origin);
void precompiled(const Charsmap& charsmap, Chars& chars, uint32_t origin);
// NormalizedString::transform over the whole text: each (character, change) of `dest` takes the alignment of the
// character it replaces (change <= 0, which then also consumes -change more) or of the one before (change > 0).
void transform(Chars& chars, const std::vector<std::pair<char32_t, int64_t>>& dest, uint32_t origin);
void pre_tokenize(const PreTokenizer& step, std::vector<Chars>& words, bool sequence_start);

}  // namespace pipeline
}  // namespace electra
