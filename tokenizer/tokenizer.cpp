#include "tokenizer/tokenizer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <mutex>
#include <set>
#include <stdexcept>

#include "common/files.h"
#include "common/utf8.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/truncation.h"

namespace electra {
using unicode::AlignedChar;
using tokenizer_detail::seen_length;
using tokenizer_detail::truncate_lengths;

Tokenizer::Tokenizer(std::unordered_map<std::string, int64_t> vocab, TokenizerOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab_) {
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
      throw std::invalid_argument(fmt::format("vocabulary id {} of '{}' is out of range", id, token));
    }
    max_id = std::max(max_id, id);
  }
  id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [token, id] : vocab_) {
    id_to_token_[static_cast<size_t>(id)] = token;
    if (utf8::find_invalid(token) != token.size()) {
      throw std::invalid_argument(fmt::format("the vocabulary entry with id {} is not valid UTF-8", id));
    }
    pieces_.insert(token, static_cast<int32_t>(id));
  }
  auto required = [&](const std::string& token, const char* key) {
    const auto it = vocab_.find(token);
    if (it == vocab_.end()) throw std::invalid_argument(fmt::format("the vocabulary has no {} '{}'", key, token));
    return it->second;
  };
  unk_id_ = required(options_.unk_token, "unk_token");
  cls_id_ = required(options_.cls_token, "cls_token");
  sep_id_ = required(options_.sep_token, "sep_token");
  // Hugging Face accepts a vocabulary without the pad token; only padding needs it (pad() says so).
  const auto pad = vocab_.find(options_.pad_token);
  pad_id_ = pad == vocab_.end() ? -1 : pad->second;
  for (const std::string* token :
       {&options_.unk_token, &options_.cls_token, &options_.sep_token, &options_.pad_token, &options_.mask_token}) {
    const auto it = vocab_.find(*token);
    if (token->empty() || it == vocab_.end()) continue;  // a mask token is optional
    if (std::any_of(specials_.begin(), specials_.end(), [&](const Special& s) { return s.text == *token; })) continue;
    specials_.push_back(Special{*token, it->second, utf8::length(*token)});
    special_lead_[static_cast<unsigned char>((*token)[0])] = true;
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
  normalizer_ = BertNormalizerOptions{options_.do_lower_case, options_.strip_accents.value_or(options_.do_lower_case),
                                      options_.tokenize_chinese_chars};
  unicode::bmp_flags();  // build the table now rather than inside the first call
}

Tokenizer Tokenizer::from_dir(const std::filesystem::path& dir) {
  const auto config = dir / "tokenizer_config.json";
  const auto config_file =
      std::filesystem::exists(config) ? std::optional<std::filesystem::path>(config) : std::nullopt;
  if (!std::filesystem::exists(dir / "vocab.txt") && std::filesystem::exists(dir / "tokenizer.json")) {
    return from_tokenizer_json(dir / "tokenizer.json", config_file);
  }
  return from_files(dir / "vocab.txt", config_file);
}

namespace {

// Says once per file and process (a run loads its vocabulary more than once) that entries repeat.
void warn_repeated_entries(const std::filesystem::path& vocab_txt, size_t repeats,
                           const std::vector<std::string>& first) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  const std::lock_guard<std::mutex> lock(mutex);
  if (!warned.insert(vocab_txt.string()).second) return;
  fmt::print(stderr,
             "electra: warning: {}: {} entr{} repeat an earlier line: {}{}; each token gets the id of its last "
             "line, as Hugging Face's tokenizers read it\n",
             vocab_txt.string(), repeats, repeats == 1 ? "y" : "ies", fmt::join(first, ", "),
             repeats > first.size() ? ", ..." : "");
}

}  // namespace

Tokenizer Tokenizer::from_files(const std::filesystem::path& vocab_txt,
                                const std::optional<std::filesystem::path>& tokenizer_config_json) {
  const std::string text = read_file(vocab_txt);
  std::vector<std::string> lines;
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> repeated;  // the first few, for the warning
  size_t repeats = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (utf8::find_invalid(line) != line.size()) {
      throw std::runtime_error(fmt::format("{}:{}: invalid UTF-8", vocab_txt.string(), lines.size() + 1));
    }
    const auto [it, fresh] = vocab.try_emplace(line, static_cast<int64_t>(lines.size()));
    if (!fresh) {
      // A repeated entry takes its last line, as Hugging Face reads it; the earlier id decodes to it but is never
      // produced.
      if (repeated.size() < 5) repeated.push_back(fmt::format("'{}' (lines {} and {})", line, it->second + 1,
                                                              lines.size() + 1));
      ++repeats;
      it->second = static_cast<int64_t>(lines.size());
    }
    lines.push_back(std::move(line));
    begin = end + 1;
  }
  if (lines.empty()) throw std::runtime_error(fmt::format("{}: the vocabulary is empty", vocab_txt.string()));
  if (repeats > 0) warn_repeated_entries(vocab_txt, repeats, repeated);
  const TokenizerOptions options =
      tokenizer_config_json ? read_tokenizer_config(*tokenizer_config_json) : TokenizerOptions();
  for (const auto& [token, key] : {std::pair{&options.unk_token, "unk_token"}, {&options.cls_token, "cls_token"},
                                   {&options.sep_token, "sep_token"}}) {
    if (!vocab.count(*token)) {
      throw std::runtime_error(fmt::format("{}: no line holds the {} '{}'", vocab_txt.string(), key, *token));
    }
  }
  Tokenizer tokenizer(std::move(vocab), options);
  tokenizer.id_to_token_ = std::move(lines);
  return tokenizer;
}

const Tokenizer::Special* Tokenizer::match_special(std::string_view text, size_t at) const {
  for (const Special& special : specials_) {
    if (text.compare(at, special.text.size(), special.text) == 0) return &special;
  }
  return nullptr;
}

// The BertNormalizer + BertPreTokenizer + WordPiece pipeline in one pass over the text: the text between special
// tokens goes through for_each_bert_word, each of its words through WordPiece.
void Tokenizer::tokenize_into(std::string_view text, std::vector<Token>& out, std::vector<size_t>* specials) const {
  if (text.size() >= std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument(fmt::format("text of {} bytes is too long to tokenize", text.size()));
  }
  auto word = [&](const AlignedChar* chars, size_t n) { word_piece(chars, n, out); };
  size_t from = 0;   // first byte not yet tokenized
  uint32_t pos = 0;  // code point index of text[from]
  // A special token starts with a lead byte (the vocabulary is valid UTF-8), so it can only match where a
  // character starts.
  for (size_t i = 0; i < text.size() && !specials_.empty(); ++i) {
    if (!special_lead_[static_cast<unsigned char>(text[i])]) continue;
    const Special* special = match_special(text, i);
    if (!special) continue;
    pos = for_each_bert_word(text, from, i, pos, normalizer_, word);
    if (specials) specials->push_back(out.size());
    out.push_back(Token{special->text, special->id, pos, pos + special->chars});
    pos += static_cast<uint32_t>(special->chars);
    from = i + special->text.size();
    i = from - 1;
  }
  for_each_bert_word(text, from, text.size(), pos, normalizer_, word);
}

void Tokenizer::word_piece(const AlignedChar* word, size_t n, std::vector<Token>& out) const {
  const int64_t begin = word[0].at, end = int64_t{word[n - 1].at} + 1;
  if (n > max_word_chars_) {
    out.push_back(Token{options_.unk_token, unk_id_, begin, end});
    return;
  }
  const size_t mark = out.size();
  for (size_t start = 0; start < n;) {
    int32_t id = 0;
    const size_t len = pieces_.longest(word + start, n - start, start > 0, id);
    if (len == 0) {  // some position has no piece: the whole word is unknown
      out.resize(mark);
      out.push_back(Token{options_.unk_token, unk_id_, begin, end});
      return;
    }
    out.push_back(Token{id_to_token_[static_cast<size_t>(id)], id, word[start].at, int64_t{word[start + len - 1].at} + 1});
    start += len;
  }
}

std::vector<Token> Tokenizer::tokenize(std::string_view text) const {
  std::vector<Token> out;
  out.reserve(text.size() / 3 + 4);
  if (pipeline_) {
    pipeline_tokenize_into(text, out, nullptr);
  } else {
    tokenize_into(text, out, nullptr);
  }
  return out;
}

Encoding Tokenizer::encode(std::string_view text, std::optional<std::string_view> text_pair,
                           const EncodeOptions& options) const {
  if (pipeline_) return encode_pipeline(text, text_pair, options);
  // A max_length below the count of special tokens (2, or 3 for a pair): tokenizers 0.23 then truncates nothing
  // (the budget would be negative) but still stops encoding each sequence it may truncate after max_length tokens
  // (seen_length): the second one always, the first one unless the strategy is only_second. Found by probing
  // tokenizers and BertTokenizerFast; the encoding is then longer than max_length, as theirs is.
  const bool below_specials = options.truncation != Truncation::none && options.max_length > 0 &&
                              options.max_length < (text_pair ? 3 : 2);
  const bool limited =
      (options.truncation == Truncation::longest_first && options.max_length > 0 && text_pair) || below_specials;
  std::vector<size_t> specials_a, specials_b;
  std::vector<Token> a;
  a.reserve(text.size() / 3 + 4);
  tokenize_into(text, a, limited ? &specials_a : nullptr);
  std::optional<std::vector<Token>> b;
  if (text_pair) {
    b.emplace();
    b->reserve(text_pair->size() / 3 + 4);
    tokenize_into(*text_pair, *b, limited ? &specials_b : nullptr);
  }
  size_t seen_a = a.size(), seen_b = b ? b->size() : 0;
  if (limited) {
    auto seen = [&](const std::vector<Token>& tokens, const std::vector<size_t>& at) {
      std::vector<bool> special(tokens.size(), false);
      for (const size_t i : at) special[i] = true;
      return seen_length(tokens, special, static_cast<size_t>(options.max_length));
    };
    seen_a = seen(a, specials_a);
    if (b) seen_b = seen(*b, specials_b);
  }
  if (below_specials) {
    if (options.truncation != Truncation::only_second) a.resize(seen_a);
    if (b) b->resize(seen_b);
    EncodeOptions untruncated = options;
    untruncated.truncation = Truncation::none;
    const size_t na = a.size(), nb = b ? b->size() : 0;
    return assemble(std::move(a), std::move(b), na, nb, untruncated);
  }
  return assemble(std::move(a), std::move(b), seen_a, seen_b, options);
}

Encoding Tokenizer::encode_tokens(std::vector<Token> a, std::optional<std::vector<Token>> b,
                                  const EncodeOptions& options) const {
  size_t seen_a = a.size(), seen_b = b ? b->size() : 0;
  if (pipeline_) return assemble_template(std::move(a), std::move(b), seen_a, seen_b, options);
  if (options.truncation == Truncation::longest_first && options.max_length > 0 && b) {
    // Special tokens are recognised by id; an [UNK] counts as a word (WordPiece makes them too).
    auto seen = [&](const std::vector<Token>& tokens) {
      std::vector<bool> special(tokens.size(), false);
      for (size_t i = 0; i < tokens.size(); ++i) {
        special[i] = tokens[i].id != unk_id_ && std::any_of(specials_.begin(), specials_.end(), [&](const Special& s) {
                       return s.id == tokens[i].id && s.text == tokens[i].text;
                     });
      }
      return seen_length(tokens, special, static_cast<size_t>(options.max_length));
    };
    seen_a = seen(a);
    seen_b = seen(*b);
  }
  return assemble(std::move(a), std::move(b), seen_a, seen_b, options);
}

Encoding Tokenizer::assemble(std::vector<Token> a, std::optional<std::vector<Token>> b, size_t seen_a, size_t seen_b,
                             const EncodeOptions& options) const {
  const int64_t specials = b ? 3 : 2;
  if (options.padding == Padding::max_length && options.max_length <= 0) {
    throw std::invalid_argument("padding 'max_length' needs a positive max_length");
  }
  if (options.truncation != Truncation::none && options.max_length > 0) {
    if (options.max_length < specials) {
      throw std::invalid_argument(fmt::format("max_length {} is smaller than the {} special tokens of a{}",
                                              options.max_length, specials, b ? " pair" : " single text"));
    }
    size_t na = a.size(), nb = b ? b->size() : 0;
    truncate_lengths(na, nb, seen_a, seen_b, b.has_value(), static_cast<size_t>(options.max_length - specials),
                     options.truncation);
    a.resize(na);
    if (b) b->resize(nb);
  }
  const size_t total = a.size() + (b ? b->size() : 0) + static_cast<size_t>(specials);
  const size_t capacity = std::max<size_t>(total, options.padding == Padding::max_length ? options.max_length : 0);
  Encoding e;
  e.tokens.reserve(capacity);
  e.input_ids.reserve(capacity);
  e.token_type_ids.reserve(capacity);
  e.attention_mask.reserve(capacity);
  e.offsets.reserve(capacity);
  e.sequence_ids.reserve(capacity);
  auto add = [&](std::string token, int64_t id, int64_t type, std::pair<int64_t, int64_t> offsets, int sequence) {
    e.tokens.push_back(std::move(token));
    e.input_ids.push_back(id);
    e.token_type_ids.push_back(type);
    e.attention_mask.push_back(1);
    e.offsets.push_back(offsets);
    e.sequence_ids.push_back(sequence);
  };
  add(options_.cls_token, cls_id_, 0, {0, 0}, -1);
  for (Token& t : a) add(std::move(t.text), t.id, 0, {t.begin, t.end}, 0);
  add(options_.sep_token, sep_id_, 0, {0, 0}, -1);
  if (b) {
    for (Token& t : *b) add(std::move(t.text), t.id, 1, {t.begin, t.end}, 1);
    add(options_.sep_token, sep_id_, 1, {0, 0}, -1);
  }
  if (options.padding == Padding::max_length) pad(e, options.max_length);
  return e;
}

std::vector<Encoding> Tokenizer::encode_batch(
    const std::vector<std::pair<std::string_view, std::optional<std::string_view>>>& inputs,
    const EncodeOptions& options) const {
  std::vector<Encoding> out;
  out.reserve(inputs.size());
  for (const auto& [text, pair] : inputs) out.push_back(encode(text, pair, options));
  if (options.padding == Padding::longest) {
    size_t longest = 0;
    for (const Encoding& e : out) longest = std::max(longest, e.input_ids.size());
    for (Encoding& e : out) pad(e, static_cast<int64_t>(longest));
  }
  return out;
}

void Tokenizer::pad(Encoding& e, int64_t length) const {
  if (pad_id_ < 0 && static_cast<int64_t>(e.input_ids.size()) < length) {
    throw std::invalid_argument(fmt::format("padding needs the pad_token '{}', which the vocabulary does not hold",
                                            options_.pad_token));
  }
  while (static_cast<int64_t>(e.input_ids.size()) < length) {
    e.tokens.push_back(options_.pad_token);
    e.input_ids.push_back(pad_id_);
    e.token_type_ids.push_back(0);
    e.attention_mask.push_back(0);
    e.offsets.emplace_back(0, 0);
    e.sequence_ids.push_back(-1);
  }
}

int64_t Tokenizer::token_to_id(const std::string& token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? unk_id_ : it->second;
}

const std::string& Tokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(id_to_token_.size())) {
    throw std::invalid_argument(fmt::format("token id {} is outside the vocabulary (size {})", id, id_to_token_.size()));
  }
  return id_to_token_[static_cast<size_t>(id)];
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(id_to_token_.size()); }

std::string Tokenizer::vocab_txt() const {
  if (pipeline_) {
    throw std::runtime_error(fmt::format("the {} tokenizer of tokenizer.json has no vocab.txt form (vocab.txt is "
                                         "WordPiece's); keep its tokenizer.json",
                                         pipeline_->model_type));
  }
  std::string text;
  for (size_t id = 0; id < id_to_token_.size(); ++id) {
    const std::string& token = id_to_token_[id];
    const auto it = vocab_.find(token);
    if (it == vocab_.end() || it->second != static_cast<int64_t>(id)) {
      throw std::runtime_error(fmt::format("vocabulary id {} has no token of its own; it cannot be written as vocab.txt", id));
    }
    if (token.find_first_of("\r\n") != std::string::npos) {
      throw std::runtime_error(
          fmt::format("vocabulary token with id {} holds a line break; it cannot be written as vocab.txt", id));
    }
    text += token;
    text += '\n';
  }
  return text;
}
int64_t Tokenizer::pad_id() const { return pad_id_; }
int64_t Tokenizer::cls_id() const { return cls_id_; }
int64_t Tokenizer::sep_id() const { return sep_id_; }
int64_t Tokenizer::unk_id() const { return unk_id_; }

}  // namespace electra
