// Tokenizer::from_pipeline_json: a tokenizer.json whose model is BPE or Unigram, read into tokenizer/pipeline.h's
// steps. Every component and option electra does not compute exactly as tokenizers does is refused naming the field.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/utf8.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"

namespace electra {
namespace {

using nlohmann::json;
using pipeline::Normalizer;
using pipeline::PreTokenizer;
using tokenizer_detail::TokenizerJson;

constexpr const char* kNormalizers = "Precompiled, Lowercase, Replace, Strip, Prepend, Nmt, Sequence";

// Standard base64 (tokenizers writes a charsmap so); false on any other character or a bad length.
bool base64_decode(const std::string& text, std::string& out) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return false;
  out.clear();
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0 || (v[k] = value(c)) < 0) return false;
    }
    const uint32_t bits = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += static_cast<char>(bits >> 16);
    if (pad < 2) out += static_cast<char>((bits >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(bits & 0xFF);
  }
  return true;
}
constexpr const char* kPreTokenizers = "ByteLevel, Metaspace, WhitespaceSplit, Sequence";

std::u32string decode(const std::string& text) {
  std::u32string out;
  utf8::decode_all(text, out);
  return out;
}

// A value that must be null, absent or `allowed` (e.g. dropout, continuing_subword_prefix).
void require_unset(const TokenizerJson& file, const json& object, const std::string& field, const char* key,
                   const json& allowed = json()) {
  if (!object.contains(key) || object[key].is_null() || object[key] == allowed) return;
  file.fail(field + "." + key, fmt::format("{} is not supported (only null)", object[key].dump()));
}

Normalizer read_normalizer(const TokenizerJson& file, const json& object, const std::string& field) {
  const std::string type = file.type_of(object, field);
  Normalizer step;
  if (type == "Lowercase") return step;
  if (type == "Nmt") {
    step.kind = Normalizer::Kind::nmt;
    return step;
  }
  if (type == "Precompiled") {
    step.kind = Normalizer::Kind::precompiled;
    std::string bytes;
    if (!base64_decode(file.string_at(object, field, "precompiled_charsmap"), bytes)) {
      file.fail(field + ".precompiled_charsmap", "not valid base64");
    }
    try {
      step.charsmap = std::make_shared<const pipeline::Charsmap>(bytes);
    } catch (const std::invalid_argument& e) {
      file.fail(field + ".precompiled_charsmap", e.what());
    }
    return step;
  }
  if (type == "Strip") {
    step.kind = Normalizer::Kind::strip;
    step.left = file.boolean_at(object, field, "strip_left", true);
    step.right = file.boolean_at(object, field, "strip_right", true);
    return step;
  }
  if (type == "Prepend") {
    step.kind = Normalizer::Kind::prepend;
    step.content = decode(file.string_at(object, field, "prepend"));
    return step;
  }
  if (type == "Replace") {
    step.kind = Normalizer::Kind::replace;
    step.content = decode(file.string_at(object, field, "content"));
    const json& pattern = file.member(object, field, "pattern");
    if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
      step.pattern = decode(pattern["String"].get<std::string>());
      return step;
    }
    if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) {
      file.fail(field + ".pattern", fmt::format("expected {{\"String\": ...}} or {{\"Regex\": ...}}, got {}", pattern.dump()));
    }
    // Regexes electra computes: one literal character repeated ("c+", "c{n,}"), or a literal without metacharacters.
    const std::u32string regex = decode(pattern["Regex"].get<std::string>());
    const std::u32string meta = U"\\^$.|?*+()[]{}";
    const auto literal = [&](char32_t c) { return meta.find(c) == std::u32string::npos; };
    if (!regex.empty() && std::all_of(regex.begin(), regex.end(), literal)) {
      step.pattern = regex;
      return step;
    }
    if (regex.size() == 2 && literal(regex[0]) && regex[1] == U'+') {
      step.pattern = regex.substr(0, 1);
      step.min_repeat = 1;
      return step;
    }
    if (regex.size() >= 5 && literal(regex[0]) && regex[1] == U'{' && regex.substr(regex.size() - 2) == U",}") {
      const std::u32string digits = regex.substr(2, regex.size() - 4);
      if (!digits.empty() && digits.size() < 6 && std::all_of(digits.begin(), digits.end(), [](char32_t c) { return c >= U'0' && c <= U'9'; })) {
        step.pattern = regex.substr(0, 1);
        step.min_repeat = std::stoul(pipeline::to_utf8(digits.data(), digits.size()));
        if (step.min_repeat > 0) return step;
      }
    }
    file.fail(field + ".pattern.Regex", fmt::format("'{}' is not supported (only a literal, \"c+\" or \"c{{n,}}\")",
                                                    pattern["Regex"].get<std::string>()));
  }
  file.fail(field + ".type", fmt::format("normalizer '{}' is not supported (supported: {})", type, kNormalizers));
}

PreTokenizer read_pre_tokenizer(const TokenizerJson& file, const json& object, const std::string& field) {
  const std::string type = file.type_of(object, field);
  PreTokenizer step;
  if (type == "ByteLevel") {
    step.add_prefix_space = file.boolean_at(object, field, "add_prefix_space", true);
    step.use_regex = file.boolean_at(object, field, "use_regex", true);
    return step;
  }
  if (type == "WhitespaceSplit") {
    step.kind = PreTokenizer::Kind::whitespace_split;
    return step;
  }
  if (type == "Metaspace") {
    step.kind = PreTokenizer::Kind::metaspace;
    const std::u32string replacement = decode(file.string_at(object, field, "replacement"));
    if (replacement.size() != 1) file.fail(field + ".replacement", "expected one character");
    step.replacement = replacement[0];
    step.split = file.boolean_at(object, field, "split", true);
    if (object.contains("prepend_scheme")) {
      const std::string scheme = file.string_at(object, field, "prepend_scheme");
      if (scheme == "always") {
        step.prepend = PreTokenizer::Prepend::always;
      } else if (scheme == "first") {
        step.prepend = PreTokenizer::Prepend::first;
      } else if (scheme == "never") {
        step.prepend = PreTokenizer::Prepend::never;
      } else {
        file.fail(field + ".prepend_scheme", fmt::format("unknown '{}' (known: always, first, never)", scheme));
      }
    } else {  // files from before tokenizers 0.19
      step.prepend = file.boolean_at(object, field, "add_prefix_space", true) ? PreTokenizer::Prepend::always
                                                                              : PreTokenizer::Prepend::never;
    }
    return step;
  }
  file.fail(field + ".type", fmt::format("pre-tokenizer '{}' is not supported (supported: {})", type, kPreTokenizers));
}

std::pair<std::string, int64_t> token_and_id(const TokenizerJson& file, const json& entry, const std::string& field) {
  if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number_integer()) {
    file.fail(field, fmt::format("expected [token, id], got {}", entry.dump()));
  }
  return {entry[0].get<std::string>(), entry[1].get<int64_t>()};
}

}  // namespace

Tokenizer Tokenizer::from_pipeline_json(const std::filesystem::path& tokenizer_json, const json& root,
                                        const std::optional<std::filesystem::path>& tokenizer_config_json) {
  const TokenizerJson file(tokenizer_json);
  auto steps = std::make_shared<pipeline::Pipeline>();
  Tokenizer t;
  const json& model = file.member(root, "model", "model");
  const std::string model_type = file.type_of(model, "model");
  steps->model_type = model_type;
  const json& vocab_json = file.member(model, "model", "vocab");
  std::string unk_token;
  if (model_type == "BPE") {
    require_unset(file, model, "model", "dropout");
    require_unset(file, model, "model", "continuing_subword_prefix", "");
    require_unset(file, model, "model", "end_of_word_suffix", "");
    if (file.boolean_at(model, "model", "byte_fallback", false)) file.fail("model.byte_fallback", "true is not supported");
    if (model.contains("unk_token") && !model["unk_token"].is_null()) unk_token = file.string_at(model, "model", "unk_token");
    if (!vocab_json.is_object() || vocab_json.empty()) file.fail("model.vocab", "expected a non-empty object token -> id");
    for (const auto& [token, id] : vocab_json.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= static_cast<int64_t>(vocab_json.size())) {
        file.fail("model.vocab", fmt::format("token '{}' has id {}, not one of 0..{}", token, id.dump(), vocab_json.size() - 1));
      }
      t.vocab_.emplace(token, id.get<int64_t>());
    }
    t.id_to_token_.assign(vocab_json.size(), std::string());
    for (const auto& [token, id] : t.vocab_) t.id_to_token_[static_cast<size_t>(id)] = token;
    const json& merges_json = file.member(model, "model", "merges");
    if (!merges_json.is_array()) file.fail("model.merges", "expected an array");
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(merges_json.size());
    for (size_t i = 0; i < merges_json.size(); ++i) {
      const json& m = merges_json[i];
      if (m.is_string()) {
        const std::string text = m.get<std::string>();
        const size_t space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
          file.fail(fmt::format("model.merges[{}]", i), fmt::format("expected \"left right\", got '{}'", text));
        }
        merges.emplace_back(text.substr(0, space), text.substr(space + 1));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        file.fail(fmt::format("model.merges[{}]", i), fmt::format("expected a pair of strings, got {}", m.dump()));
      }
    }
    try {
      steps->model = std::make_unique<pipeline::BpeModel>(t.vocab_, t.id_to_token_, merges, unk_token,
                                                          file.boolean_at(model, "model", "fuse_unk", false),
                                                          file.boolean_at(model, "model", "ignore_merges", false));
    } catch (const std::invalid_argument& e) {
      file.fail("model", e.what());
    }
  } else {  // Unigram
    if (file.boolean_at(model, "model", "byte_fallback", false)) file.fail("model.byte_fallback", "true is not supported");
    const json& unk = file.member(model, "model", "unk_id");
    if (!unk.is_number_unsigned() || unk.get<uint64_t>() >= vocab_json.size()) {
      file.fail("model.unk_id", fmt::format("expected an index into model.vocab, got {}", unk.dump()));
    }
    if (!vocab_json.is_array() || vocab_json.empty()) file.fail("model.vocab", "expected a non-empty array of [piece, score]");
    std::vector<std::pair<std::string, double>> pieces;
    pieces.reserve(vocab_json.size());
    for (size_t i = 0; i < vocab_json.size(); ++i) {
      const json& entry = vocab_json[i];
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number()) {
        file.fail(fmt::format("model.vocab[{}]", i), fmt::format("expected [piece, score], got {}", entry.dump()));
      }
      pieces.emplace_back(entry[0].get<std::string>(), entry[1].get<double>());
      t.vocab_.emplace(pieces.back().first, static_cast<int64_t>(i));  // a repeated piece keeps its first id
      t.id_to_token_.push_back(pieces.back().first);
    }
    unk_token = pieces[unk.get<size_t>()].first;
    steps->model = std::make_unique<pipeline::UnigramModel>(std::move(pieces), unk.get<int64_t>());
  }

  // added_tokens: special tokens matched in the raw text (a model entry, or an id after the model's).
  const bool no_normalizer = !root.contains("normalizer") || root["normalizer"].is_null();
  const json& added = root.contains("added_tokens") ? root["added_tokens"] : json::array();
  if (!added.is_array()) file.fail("added_tokens", "expected an array");
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string field = fmt::format("added_tokens[{}]", i);
    const std::string content = file.string_at(added[i], field, "content");
    const json& id_json = file.member(added[i], field, "id");
    if (!id_json.is_number_unsigned()) file.fail(field + ".id", fmt::format("expected an id, got {}", id_json.dump()));
    const auto id = id_json.get<int64_t>();
    if (content.empty() || utf8::find_invalid(content) != content.size()) file.fail(field + ".content", "expected a non-empty UTF-8 string");
    if (!file.boolean_at(added[i], field, "special", false)) {
      file.fail(field + ".special", fmt::format("the non-special added token '{}' is not supported", content));
    }
    // normalized: true matches the same text where there is no normalizer (RoBERTa's files say true).
    if ((file.boolean_at(added[i], field, "normalized", false) && !no_normalizer) ||
        file.boolean_at(added[i], field, "single_word", false)) {
      file.fail(field, fmt::format("added token '{}': single_word must be false, and normalized too where there is a "
                                   "normalizer", content));
    }
    const bool lstrip = file.boolean_at(added[i], field, "lstrip", false);
    const bool rstrip = file.boolean_at(added[i], field, "rstrip", false);
    const auto known = t.vocab_.find(content);
    if (known != t.vocab_.end() && known->second != id) {
      file.fail(field, fmt::format("added token '{}' has id {} but model.vocab gives it {}", content, id, known->second));
    }
    if (known == t.vocab_.end()) {
      if (id < static_cast<int64_t>(t.id_to_token_.size()) && !t.id_to_token_[static_cast<size_t>(id)].empty()) {
        file.fail(field, fmt::format("added token '{}' takes id {}, which is '{}' in model.vocab", content, id,
                                     t.id_to_token_[static_cast<size_t>(id)]));
      }
      if (id > std::numeric_limits<int32_t>::max()) file.fail(field + ".id", fmt::format("{} is out of range", id));
      if (id >= static_cast<int64_t>(t.id_to_token_.size())) t.id_to_token_.resize(static_cast<size_t>(id) + 1);
      t.id_to_token_[static_cast<size_t>(id)] = content;
      t.vocab_.emplace(content, id);
    }
    if (std::none_of(t.specials_.begin(), t.specials_.end(), [&](const Special& s) { return s.text == content; })) {
      t.specials_.push_back(Special{content, id, utf8::length(content), lstrip, rstrip});
      t.special_lead_[static_cast<unsigned char>(content[0])] = true;
    }
  }
  std::stable_sort(t.specials_.begin(), t.specials_.end(),
                   [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });

  // normalizer and pre_tokenizer: null or supported steps (Sequence flattened).
  const json& normalizer = root.contains("normalizer") ? root["normalizer"] : json();
  if (!normalizer.is_null()) {
    for (const auto& [field, step] : file.flatten(normalizer, "normalizer", "normalizers")) {
      steps->normalizers.push_back(read_normalizer(file, *step, field));
    }
  }
  const json& pre = root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json();
  if (!pre.is_null()) {
    for (const auto& [field, step] : file.flatten(pre, "pre_tokenizer", "pretokenizers")) {
      steps->pre_tokenizers.push_back(read_pre_tokenizer(file, *step, field));
    }
  }

  // post_processor: the template of special tokens and type ids.
  const auto sequence = [](int which, int64_t type) { return TemplatePiece{which, type, {}}; };
  const auto special = [&](const std::pair<std::string, int64_t>& token, int64_t type) {
    return TemplatePiece{-1, type, {token}};
  };
  t.single_ = {sequence(0, 0)};
  t.pair_ = {sequence(0, 0), sequence(1, 1)};
  const json& post = root.contains("post_processor") ? root["post_processor"] : json();
  if (!post.is_null()) {
    const std::string type = file.type_of(post, "post_processor");
    if (type == "RobertaProcessing" || type == "BertProcessing") {
      const auto cls = token_and_id(file, file.member(post, "post_processor", "cls"), "post_processor.cls");
      const auto sep = token_and_id(file, file.member(post, "post_processor", "sep"), "post_processor.sep");
      t.single_ = {special(cls, 0), sequence(0, 0), special(sep, 0)};
      if (type == "RobertaProcessing") {  // RoBERTa gives every token type 0
        t.pair_ = {special(cls, 0), sequence(0, 0), special(sep, 0), special(sep, 0), sequence(1, 0), special(sep, 0)};
        steps->trim_offsets = file.boolean_at(post, "post_processor", "trim_offsets", true);
        steps->trim_add_prefix_space = file.boolean_at(post, "post_processor", "add_prefix_space", true);
      } else {
        t.pair_ = {special(cls, 0), sequence(0, 0), special(sep, 0), sequence(1, 1), special(sep, 1)};
      }
    } else if (type == "ByteLevel") {
      steps->trim_offsets = file.boolean_at(post, "post_processor", "trim_offsets", true);
      steps->trim_add_prefix_space = file.boolean_at(post, "post_processor", "add_prefix_space", true);
    } else if (type == "TemplateProcessing") {
      const json& specials = file.member(post, "post_processor", "special_tokens");
      for (const char* key : {"single", "pair"}) {
        const std::string field = std::string("post_processor.") + key;
        const json& pieces = file.member(post, "post_processor", key);
        if (!pieces.is_array()) file.fail(field, "expected an array");
        std::vector<TemplatePiece>& out = key[0] == 's' ? t.single_ : t.pair_;
        out.clear();
        for (size_t i = 0; i < pieces.size(); ++i) {
          const std::string at = fmt::format("{}[{}]", field, i);
          const json& piece = pieces[i];
          const bool is_special = piece.is_object() && piece.contains("SpecialToken");
          if (!is_special && !(piece.is_object() && piece.contains("Sequence"))) {
            file.fail(at, fmt::format("expected SpecialToken or Sequence, got {}", piece.dump()));
          }
          const json& body = piece[is_special ? "SpecialToken" : "Sequence"];
          const std::string id = file.string_at(body, at, "id");
          const json& type_id = file.member(body, at, "type_id");
          if (!type_id.is_number_unsigned()) file.fail(at + ".type_id", fmt::format("expected a type id, got {}", type_id.dump()));
          if (!is_special) {
            if (id != "A" && id != "B") file.fail(at + ".id", fmt::format("expected A or B, got '{}'", id));
            out.push_back(sequence(id == "A" ? 0 : 1, type_id.get<int64_t>()));
            continue;
          }
          if (!specials.is_object() || !specials.contains(id)) file.fail("post_processor.special_tokens", "no entry '" + id + "'");
          const json& entry = specials[id];
          const json& ids = file.member(entry, "post_processor.special_tokens." + id, "ids");
          const json& tokens = file.member(entry, "post_processor.special_tokens." + id, "tokens");
          if (!ids.is_array() || !tokens.is_array() || ids.size() != tokens.size()) {
            file.fail("post_processor.special_tokens." + id, "expected as many ids as tokens");
          }
          TemplatePiece made{-1, type_id.get<int64_t>(), {}};
          for (size_t k = 0; k < ids.size(); ++k) {
            made.tokens.push_back(token_and_id(file, json::array({tokens[k], ids[k]}), "post_processor.special_tokens." + id));
          }
          out.push_back(std::move(made));
        }
      }
    } else {
      file.fail("post_processor.type", fmt::format("'{}' is not supported (supported: RobertaProcessing, "
                                                   "BertProcessing, TemplateProcessing, ByteLevel)", type));
    }
  }
  std::vector<std::pair<std::string, int64_t>> template_tokens;
  for (const auto* pieces : {&t.single_, &t.pair_}) {
    for (const TemplatePiece& piece : *pieces) template_tokens.insert(template_tokens.end(), piece.tokens.begin(), piece.tokens.end());
  }
  for (const auto& [token, id] : template_tokens) {
    const auto it = t.vocab_.find(token);
    if (it == t.vocab_.end() || it->second != id) {
      file.fail("post_processor", fmt::format("special token '{}' has id {} but the vocabulary gives it {}", token, id,
                                              it == t.vocab_.end() ? std::string("none") : std::to_string(it->second)));
    }
  }

  // Options: tokenizer_config.json's (its absent keys take RoBERTa's names); unk from the model, cls/sep from the
  // template's first and last special token.
  TokenizerOptions defaults;
  defaults.unk_token = unk_token;
  defaults.pad_token = "<pad>";
  defaults.mask_token = "<mask>";
  t.options_ = tokenizer_config_json ? read_tokenizer_config(*tokenizer_config_json, defaults) : defaults;
  t.options_.unk_token = unk_token;
  t.options_.cls_token = t.options_.sep_token = "";
  t.cls_id_ = t.sep_id_ = -1;
  for (const TemplatePiece& piece : t.single_) {
    for (const auto& [token, id] : piece.tokens) {
      if (t.cls_id_ < 0) std::tie(t.options_.cls_token, t.cls_id_) = std::make_pair(token, id);
      std::tie(t.options_.sep_token, t.sep_id_) = std::make_pair(token, id);
    }
  }
  const auto id_or = [&](const std::string& token) {
    const auto it = t.vocab_.find(token);
    return it == t.vocab_.end() ? int64_t{-1} : it->second;
  };
  t.unk_id_ = unk_token.empty() ? -1 : id_or(unk_token);
  t.pad_id_ = id_or(t.options_.pad_token);
  t.pipeline_ = std::move(steps);
  return t;
}

}  // namespace electra
