// Tokenizer::from_tokenizer_json: the BERT WordPiece pipeline of a `tokenizers` tokenizer.json (what transformers 5
// saves instead of vocab.txt). Only what the Tokenizer class computes is accepted; every other value is refused
// with the file and the field, never approximated.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/files.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"

namespace electra {
namespace {

using nlohmann::json;
using tokenizer_detail::TokenizerJson;

// The id tokenizers gives a special token of the post-processor: {"ids": [N], "tokens": ["T"]} (TemplateProcessing)
// or ["T", N] (BertProcessing).
struct SpecialId {
  std::string token;
  int64_t id = -1;
};

SpecialId template_special(const TokenizerJson& file, const json& specials, const std::string& name) {
  const std::string field = "post_processor.special_tokens." + name;
  if (!specials.is_object() || !specials.contains(name)) file.fail("post_processor.special_tokens", "no entry '" + name + "'");
  const json& entry = specials[name];
  const json& ids = file.member(entry, field, "ids");
  const json& tokens = file.member(entry, field, "tokens");
  if (!ids.is_array() || ids.size() != 1 || !ids[0].is_number_integer() || !tokens.is_array() || tokens.size() != 1 ||
      !tokens[0].is_string()) {
    file.fail(field, fmt::format("expected one id and one token, got {}", entry.dump()));
  }
  return SpecialId{tokens[0].get<std::string>(), ids[0].get<int64_t>()};
}

// Checks a TemplateProcessing template against BERT's: [CLS] $A [SEP] (single), [CLS] $A [SEP] $B:1 [SEP]:1 (pair).
void check_template(const TokenizerJson& file, const json& pieces, const std::string& field, bool pair,
                    std::string& cls, std::string& sep) {
  struct Expected {
    bool special;
    const char* sequence;
    int type_id;
  };
  std::vector<Expected> expected = {{true, nullptr, 0}, {false, "A", 0}, {true, nullptr, 0}};
  if (pair) {
    expected.push_back({false, "B", 1});
    expected.push_back({true, nullptr, 1});
  }
  auto refuse = [&] {
    file.fail(field, fmt::format("only BERT's template is supported ({}), got {}",
                                 pair ? "[CLS] $A [SEP] $B:1 [SEP]:1" : "[CLS] $A [SEP]", pieces.dump()));
  };
  if (!pieces.is_array() || pieces.size() != expected.size()) refuse();
  std::vector<std::string> specials;
  for (size_t i = 0; i < expected.size(); ++i) {
    const json& piece = pieces[i];
    const char* key = expected[i].special ? "SpecialToken" : "Sequence";
    if (!piece.is_object() || !piece.contains(key) || !piece[key].is_object()) refuse();
    const json& body = piece[key];
    if (!body.contains("id") || !body["id"].is_string() || !body.contains("type_id") ||
        !body["type_id"].is_number_integer() || body["type_id"].get<int>() != expected[i].type_id) {
      refuse();
    }
    if (expected[i].special) {
      specials.push_back(body["id"].get<std::string>());
    } else if (body["id"].get<std::string>() != expected[i].sequence) {
      refuse();
    }
  }
  if (specials[1] != specials.back() || (pair && specials[2] != specials[1])) refuse();
  if (cls.empty()) {
    cls = specials[0];
    sep = specials[1];
  } else if (cls != specials[0] || sep != specials[1]) {
    file.fail(field, fmt::format("the pair template's special tokens differ from the single one's ('{}', '{}')", cls, sep));
  }
}

}  // namespace

Tokenizer Tokenizer::from_tokenizer_json(const std::filesystem::path& tokenizer_json,
                                         const std::optional<std::filesystem::path>& tokenizer_config_json) {
  const TokenizerJson file(tokenizer_json);
  json root;
  try {
    root = json::parse(read_file(tokenizer_json));
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: invalid JSON: {}", tokenizer_json.string(), e.what()));
  }
  if (!root.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object", tokenizer_json.string()));

  // model: WordPiece with the "##" prefix.
  const json& model = file.member(root, "model", "model");
  const std::string model_type = file.type_of(model, "model");
  if (model_type == "BPE" || model_type == "Unigram") {
    return from_pipeline_json(tokenizer_json, root, tokenizer_config_json);
  }
  if (model_type != "WordPiece") {
    file.fail("model.type", fmt::format("'{}' is not supported (known: WordPiece, BPE, Unigram)", model_type));
  }
  const std::string prefix = file.string_at(model, "model", "continuing_subword_prefix");
  if (prefix != WordPieceTrie::kContinuationPrefix) {
    file.fail("model.continuing_subword_prefix",
              fmt::format("'{}' is not supported (only '{}')", prefix, WordPieceTrie::kContinuationPrefix));
  }
  const json& max_chars = file.member(model, "model", "max_input_chars_per_word");
  if (!max_chars.is_number_unsigned() || max_chars.get<uint64_t>() > std::numeric_limits<uint32_t>::max()) {
    file.fail("model.max_input_chars_per_word", fmt::format("expected a non-negative integer, got {}", max_chars.dump()));
  }
  const json& vocab_json = file.member(model, "model", "vocab");
  if (!vocab_json.is_object() || vocab_json.empty()) file.fail("model.vocab", "expected a non-empty object token -> id");
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> id_to_token(vocab_json.size());
  std::vector<bool> seen(vocab_json.size(), false);
  for (const auto& [token, id_value] : vocab_json.items()) {
    if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0) {
      file.fail("model.vocab", fmt::format("token '{}' has id {}, not a non-negative integer", token, id_value.dump()));
    }
    const int64_t id = id_value.get<int64_t>();
    if (id >= static_cast<int64_t>(id_to_token.size())) {
      file.fail("model.vocab", fmt::format("token '{}' has id {}, past the {} entries: the ids have a gap", token, id,
                                           id_to_token.size()));
    }
    if (seen[static_cast<size_t>(id)]) {
      file.fail("model.vocab",
                fmt::format("id {} is given to both '{}' and '{}'", id, id_to_token[static_cast<size_t>(id)], token));
    }
    seen[static_cast<size_t>(id)] = true;
    id_to_token[static_cast<size_t>(id)] = token;
    vocab.emplace(token, id);
  }
  const auto known = [&](const std::string& token) { return vocab.count(token) > 0; };

  // normalizer: one BertNormalizer with clean_text on (possibly inside a Sequence).
  const json& normalizer = file.member(root, "normalizer", "normalizer");
  if (normalizer.is_null()) file.fail("normalizer", "null is not supported (electra applies BertNormalizer)");
  const auto normalizers = file.flatten(normalizer, "normalizer", "normalizers");
  if (normalizers.size() != 1) {
    file.fail("normalizer", fmt::format("expected one BertNormalizer, got {} normalizers", normalizers.size()));
  }
  const auto& [norm_field, norm] = normalizers[0];
  const std::string norm_type = file.type_of(*norm, norm_field);
  if (norm_type != "BertNormalizer") {
    file.fail(norm_field + ".type", fmt::format("normalizer '{}' is not supported (only BertNormalizer)", norm_type));
  }
  if (!file.boolean_at(*norm, norm_field, "clean_text", true)) {
    file.fail(norm_field + ".clean_text", "false is not supported (electra always cleans text)");
  }
  TokenizerOptions from_json;
  from_json.do_lower_case = file.boolean_at(*norm, norm_field, "lowercase", true);
  from_json.tokenize_chinese_chars = file.boolean_at(*norm, norm_field, "handle_chinese_chars", true);
  if (norm->contains("strip_accents") && !(*norm)["strip_accents"].is_null()) {
    from_json.strip_accents = file.boolean_at(*norm, norm_field, "strip_accents", true);
  }

  // pre_tokenizer: BertPreTokenizer (possibly inside a Sequence).
  const json& pre = file.member(root, "pre_tokenizer", "pre_tokenizer");
  if (pre.is_null()) file.fail("pre_tokenizer", "null is not supported (electra applies BertPreTokenizer)");
  const auto pres = file.flatten(pre, "pre_tokenizer", "pretokenizers");
  if (pres.size() != 1 || file.type_of(*pres[0].second, pres[0].first) != "BertPreTokenizer") {
    file.fail("pre_tokenizer", fmt::format("only BertPreTokenizer is supported, got {}", pre.dump()));
  }

  // post_processor: [CLS] $A [SEP] ($B:1 [SEP]:1).
  const json& post = file.member(root, "post_processor", "post_processor");
  if (post.is_null()) file.fail("post_processor", "null is not supported (electra adds [CLS] and [SEP])");
  const std::string post_type = file.type_of(post, "post_processor");
  std::string cls, sep;
  std::vector<SpecialId> post_ids;
  if (post_type == "TemplateProcessing") {
    check_template(file, file.member(post, "post_processor", "single"), "post_processor.single", false, cls, sep);
    check_template(file, file.member(post, "post_processor", "pair"), "post_processor.pair", true, cls, sep);
    const json& specials = file.member(post, "post_processor", "special_tokens");
    post_ids = {template_special(file, specials, cls), template_special(file, specials, sep)};
  } else if (post_type == "BertProcessing") {
    for (const char* key : {"cls", "sep"}) {
      const json& entry = file.member(post, "post_processor", key);
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number_integer()) {
        file.fail(std::string("post_processor.") + key,
                  fmt::format("expected [token, id], got {}", entry.dump()));
      }
      post_ids.push_back(SpecialId{entry[0].get<std::string>(), entry[1].get<int64_t>()});
    }
    cls = post_ids[0].token;
    sep = post_ids[1].token;
  } else {
    file.fail("post_processor.type",
              fmt::format("'{}' is not supported (only TemplateProcessing or BertProcessing)", post_type));
  }
  for (const SpecialId& special : post_ids) {
    if (!known(special.token) || vocab.at(special.token) != special.id) {
      file.fail("post_processor", fmt::format("special token '{}' has id {} but the vocabulary gives it {}",
                                              special.token, special.id,
                                              known(special.token) ? std::to_string(vocab.at(special.token)) : "none"));
    }
  }

  // Options: normalization from tokenizer_config.json when there is one (transformers 5's BertTokenizer rebuilds
  // its normalizer from those keys and their defaults), else from tokenizer.json; the special tokens from
  // tokenizer.json's model and post-processor; pad/mask and model_max_length from tokenizer_config.json.
  TokenizerOptions options = tokenizer_config_json ? read_tokenizer_config(*tokenizer_config_json) : from_json;
  options.unk_token = file.string_at(model, "model", "unk_token");
  options.cls_token = cls;
  options.sep_token = sep;
  if (!known(options.unk_token)) {
    file.fail("model.unk_token", fmt::format("'{}' is not in model.vocab", options.unk_token));
  }

  // added_tokens: BERT's specials only, each with its vocabulary id, matched on the raw text.
  const json& added = root.contains("added_tokens") ? root["added_tokens"] : json::array();
  if (!added.is_array()) file.fail("added_tokens", "expected an array");
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string field = fmt::format("added_tokens[{}]", i);
    const std::string content = file.string_at(added[i], field, "content");
    const json& id = file.member(added[i], field, "id");
    if (!known(content) || !id.is_number_integer() || vocab.at(content) != id.get<int64_t>()) {
      file.fail(field, fmt::format("added token '{}' with id {} is not that entry of model.vocab (electra supports "
                                   "added tokens only as vocabulary entries)",
                                   content, id.dump()));
    }
    if (!file.boolean_at(added[i], field, "special", false)) {
      file.fail(field + ".special", fmt::format("the non-special added token '{}' is not supported", content));
    }
    if (file.boolean_at(added[i], field, "normalized", false) || file.boolean_at(added[i], field, "lstrip", false) ||
        file.boolean_at(added[i], field, "rstrip", false) || file.boolean_at(added[i], field, "single_word", false)) {
      file.fail(field, fmt::format("added token '{}': normalized, lstrip, rstrip and single_word must be false",
                                   content));
    }
    const std::string* names[] = {&options.unk_token, &options.cls_token, &options.sep_token, &options.pad_token,
                                  &options.mask_token};
    if (std::none_of(std::begin(names), std::end(names), [&](const std::string* name) { return *name == content; })) {
      file.fail(field, fmt::format("special token '{}' is none of unk/cls/sep/pad/mask ('{}', '{}', '{}', '{}', '{}'); "
                                   "electra does not match other special tokens",
                                   content, options.unk_token, options.cls_token, options.sep_token, options.pad_token,
                                   options.mask_token));
    }
  }

  Tokenizer tokenizer(std::move(vocab), options);
  tokenizer.id_to_token_ = std::move(id_to_token);
  tokenizer.max_word_chars_ = max_chars.get<size_t>();
  return tokenizer;
}

}  // namespace electra
