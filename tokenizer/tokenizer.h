// The tokenizer of a model, identical to Hugging Face's fast tokenizers (tokens, ids, token types, offsets): BERT
// WordPiece (vocab.txt or tokenizer.json, `BertTokenizerFast`), and the byte-level BPE (RoBERTa) and Unigram (XLM-R)
// pipelines of a tokenizer.json (`tokenizers`; tokenizer/pipeline.h).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/bert_words.h"
#include "tokenizer/unicode.h"
#include "tokenizer/wordpiece_trie.h"

namespace electra {

namespace pipeline {
struct Pipeline;
}

// Options read from tokenizer_config.json; absent keys take Hugging Face's defaults.
struct TokenizerOptions {
  bool do_lower_case = true;                 // HF default when the key is absent
  std::optional<bool> strip_accents;         // absent: follows do_lower_case
  bool tokenize_chinese_chars = true;
  int64_t model_max_length = 512;           // 0: no limit (a config's "1e30" placeholder reads as 0)
  std::string unk_token = "[UNK]", cls_token = "[CLS]", sep_token = "[SEP]", pad_token = "[PAD]",
              mask_token = "[MASK]";
};

// Reads tokenizer_config.json (absent keys take HF's defaults). Throws std::runtime_error naming the file and key.
TokenizerOptions read_tokenizer_config(const std::filesystem::path& file);
// The same with other defaults for the absent keys (the BPE/Unigram pipeline's <s>-style special tokens).
TokenizerOptions read_tokenizer_config(const std::filesystem::path& file, const TokenizerOptions& defaults);

enum class Truncation { none, longest_first, only_first, only_second };
enum class Padding { none, max_length, longest };

Truncation parse_truncation(std::string_view name);  // throws std::invalid_argument listing the known names
Padding parse_padding(std::string_view name);

struct EncodeOptions {
  int64_t max_length = 512;  // <= 0: no limit
  Truncation truncation = Truncation::longest_first;
  Padding padding = Padding::none;  // `longest` only means something for encode_batch
};

// One encoded input. `offsets` are [begin, end) in Unicode code points of the original text(s)
// ([0, 0] for special tokens and padding); `sequence_ids` is 0/1 for tokens of text/text_pair, -1 for specials.
struct Encoding {
  std::vector<std::string> tokens;
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;
  std::vector<int64_t> attention_mask;
  std::vector<std::pair<int64_t, int64_t>> offsets;
  std::vector<int> sequence_ids;
};

// A word piece of a text before special tokens are added.
struct Token {
  std::string text;
  int64_t id;
  int64_t begin, end;  // code point offsets into the input text
};

class Tokenizer {
 public:
  Tokenizer(std::unordered_map<std::string, int64_t> vocab, TokenizerOptions options);
  // Reads DIR/vocab.txt and DIR/tokenizer_config.json (optional); without vocab.txt, the WordPiece vocabulary and
  // pipeline of DIR/tokenizer.json (what transformers 5 saves). Throws std::runtime_error naming the file.
  static Tokenizer from_dir(const std::filesystem::path& dir);
  // A `tokenizers` tokenizer.json: a WordPiece model with BERT's normalizer, pre-tokenizer and [CLS]/[SEP]
  // template, or a BPE/Unigram model with the pipeline components docs/tokenizers.md lists; anything else is
  // refused naming the field. Normalization options come from tokenizer_config.json
  // when it is given (as transformers 5's BertTokenizer rebuilds its normalizer from it), else from tokenizer.json.
  static Tokenizer from_tokenizer_json(const std::filesystem::path& tokenizer_json,
                                       const std::optional<std::filesystem::path>& tokenizer_config_json);
  static Tokenizer from_files(const std::filesystem::path& vocab_txt,
                              const std::optional<std::filesystem::path>& tokenizer_config_json);

  // Word pieces of a text (no specials). Throws std::runtime_error on invalid UTF-8.
  std::vector<Token> tokenize(std::string_view text) const;
  // The post-processor's template ([CLS] A [SEP] (B [SEP]) for BERT, <s> A </s> (</s> B </s>) for RoBERTa) with
  // truncation/padding. Throws std::invalid_argument when truncation is impossible.
  Encoding encode(std::string_view text, std::optional<std::string_view> text_pair,
                  const EncodeOptions& options) const;
  // Builds the encoding from already tokenized pieces (used by NER and QA featurisation).
  Encoding encode_tokens(std::vector<Token> a, std::optional<std::vector<Token>> b,
                         const EncodeOptions& options) const;
  // Encodes every (text, text_pair); Padding::longest pads them all to the longest encoding.
  std::vector<Encoding> encode_batch(
      const std::vector<std::pair<std::string_view, std::optional<std::string_view>>>& inputs,
      const EncodeOptions& options) const;
  // Appends padding (pad token, type 0, mask 0, offsets [0, 0], sequence id -1) up to `length` tokens.
  void pad(Encoding& encoding, int64_t length) const;

  int64_t token_to_id(const std::string& token) const;  // unk id when absent
  const std::string& id_to_token(int64_t id) const;
  int64_t vocab_size() const;
  // The vocabulary in id order, one token a line (vocab.txt's format). Throws std::runtime_error when a token
  // holds a line break, an id has no token, or the tokenizer is not WordPiece (a BPE/Unigram tokenizer.json).
  std::string vocab_txt() const;
  int64_t pad_id() const;  // -1 when the vocabulary has no pad_token (padding then throws)
  int64_t cls_id() const;  // the first special token of the template (BERT's [CLS], RoBERTa's <s>)
  int64_t sep_id() const;  // the last one ([SEP], </s>)
  int64_t unk_id() const;
  const TokenizerOptions& options() const { return options_; }

 private:
  Tokenizer() = default;
  // A BPE or Unigram tokenizer.json (pipeline_json.cpp); `root` is the parsed file.
  static Tokenizer from_pipeline_json(const std::filesystem::path& tokenizer_json, const nlohmann::json& root,
                                      const std::optional<std::filesystem::path>& tokenizer_config_json);

  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> id_to_token_;
  TokenizerOptions options_;

  struct Special {
    std::string text;
    int64_t id;
    int64_t chars;  // length in code points
    bool lstrip = false, rstrip = false;  // pipeline added tokens: the match takes in the whitespace beside it
  };
  // Appends the pieces of `text` to `out`; `specials` (when given) receives the indices of special tokens.
  void tokenize_into(std::string_view text, std::vector<Token>& out, std::vector<size_t>* specials) const;
  Encoding assemble(std::vector<Token> a, std::optional<std::vector<Token>> b, size_t seen_a, size_t seen_b,
                    const EncodeOptions& options) const;
  void word_piece(const unicode::AlignedChar* word, size_t n, std::vector<Token>& out) const;
  const Special* match_special(std::string_view text, size_t at) const;

  BertNormalizerOptions normalizer_;
  size_t max_word_chars_ = 100;  // longer words become one unk token, as in WordPiece
  int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
  WordPieceTrie pieces_;
  std::vector<Special> specials_;  // never split; longest first
  std::array<bool, 256> special_lead_{};  // first bytes of the specials

  // The pipeline path (BPE, Unigram): tokens come from pipeline_, specials are added by the template.
  struct TemplatePiece {
    int sequence;  // -1: special tokens, 0: text, 1: text_pair
    int64_t type_id;
    std::vector<std::pair<std::string, int64_t>> tokens;  // of a special piece
  };
  std::shared_ptr<const pipeline::Pipeline> pipeline_;
  std::vector<TemplatePiece> single_, pair_;
  // `marks` (when given) receives tokenizer_detail's mark of each token.
  void pipeline_tokenize_into(std::string_view text, std::vector<Token>& out, std::vector<uint8_t>* marks) const;
  Encoding encode_pipeline(std::string_view text, std::optional<std::string_view> text_pair,
                           const EncodeOptions& options) const;
  Encoding assemble_template(std::vector<Token> a, std::optional<std::vector<Token>> b, size_t seen_a,
                             size_t seen_b, const EncodeOptions& options) const;
};

}  // namespace electra
