// The BPE (RoBERTa) and Unigram (XLM-R) pipelines of a tokenizer.json against what tokenizers returns
// (tests/fixtures/tokenizer/pipeline, made by tools/fixtures/pipeline_tokenizers.py).
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/files.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using electra::EncodeOptions;
using electra::Encoding;
using electra::Padding;
using electra::Tokenizer;
using electra::Truncation;
using nlohmann::json;

const fs::path kPipeline = fs::path(electra::test::fixtures_dir()) / "tokenizer" / "pipeline";
const char* const kKinds[] = {"roberta", "xlmr", "roberta-prefix", "unigram-first"};

json encoding_json(const Encoding& e) {
  json offsets = json::array();
  for (const auto& [begin, end] : e.offsets) offsets.push_back({begin, end});
  return json{{"tokens", e.tokens}, {"input_ids", e.input_ids}, {"token_type_ids", e.token_type_ids},
              {"attention_mask", e.attention_mask}, {"offsets", offsets}};
}

EncodeOptions untruncated() {
  EncodeOptions options;
  options.truncation = Truncation::none;
  return options;
}

json tokenizer_json(const char* kind) { return json::parse(electra::read_file(kPipeline / kind / "tokenizer.json")); }

}  // namespace

TEST_CASE("pipeline tokenizers encode texts and pairs as tokenizers does", "[tokenizer]") {
  const json cases = json::parse(electra::read_file(kPipeline / "cases.json"));
  for (const char* kind : kKinds) {
    const Tokenizer t = Tokenizer::from_dir(kPipeline / kind);
    const json& expected = cases["expected"][kind];
    for (size_t i = 0; i < cases["texts"].size(); ++i) {
      const std::string text = cases["texts"][i].get<std::string>();
      INFO(kind << " text " << i << ": " << text);
      CHECK(encoding_json(t.encode(text, std::nullopt, untruncated())) == expected["texts"][i]);
    }
    for (size_t i = 0; i < cases["pairs"].size(); ++i) {
      const std::string a = cases["pairs"][i][0].get<std::string>(), b = cases["pairs"][i][1].get<std::string>();
      INFO(kind << " pair " << i << ": " << a << " | " << b);
      CHECK(encoding_json(t.encode(a, b, untruncated())) == expected["pairs"][i]);
    }
  }
}

TEST_CASE("pipeline tokenizers take their special tokens from the post-processor and added tokens", "[tokenizer]") {
  const Tokenizer roberta = Tokenizer::from_dir(kPipeline / "roberta");
  CHECK(roberta.cls_id() == 0);
  CHECK(roberta.sep_id() == 2);
  CHECK(roberta.pad_id() == 1);
  CHECK(roberta.unk_id() == -1);  // byte-level BPE has no unknown token
  CHECK(roberta.options().cls_token == "<s>");
  CHECK(roberta.options().sep_token == "</s>");
  CHECK(roberta.options().pad_token == "<pad>");
  // vocab.txt would read back as WordPiece: a model folder must keep tokenizer.json instead.
  CHECK_THROWS_WITH(roberta.vocab_txt(), "the BPE tokenizer of tokenizer.json has no vocab.txt form (vocab.txt is "
                                         "WordPiece's); keep its tokenizer.json");

  SECTION("added tokens are matched in the raw text, the template adds <s> and </s>") {
    const Encoding e = roberta.encode("a<mask>b", std::string_view("c"), untruncated());
    CHECK(e.tokens == std::vector<std::string>{"<s>", "a", "<mask>", "b", "</s>", "</s>", "c", "</s>"});
    CHECK(e.token_type_ids == std::vector<int64_t>(8, 0));  // RobertaProcessing: type 0 throughout
    CHECK(e.sequence_ids == std::vector<int>{-1, 0, 0, 0, -1, -1, 1, -1});
  }
  SECTION("padding uses <pad>; truncation counts RoBERTa's four special tokens of a pair") {
    EncodeOptions options;
    options.max_length = 6;
    options.padding = Padding::max_length;
    CHECK(roberta.encode("ab cd ef", std::string_view("gh ij"), options).tokens ==
          std::vector<std::string>{"<s>", "a", "</s>", "</s>", "g", "</s>"});
    // Below the four special tokens tokenizers truncates nothing and stops each text after its word that reaches
    // max_length (what tokenizers 0.23 returns for this pair).
    options.max_length = 3;
    options.padding = Padding::none;
    CHECK(roberta.encode("ab cd ef gh", std::string_view("ij kl mn"), options).tokens ==
          std::vector<std::string>{"<s>", "a", "b", "Ġc", "d", "</s>", "</s>", "i", "j", "Ġ", "k", "l", "</s>"});
    options.truncation = Truncation::only_second;
    options.max_length = 5;
    CHECK_THROWS_AS(roberta.encode("ab cd", std::string_view("e"), options), std::invalid_argument);
    options.truncation = Truncation::longest_first;
    options.padding = Padding::max_length;
    options.max_length = 12;
    const Encoding padded = roberta.encode("a", std::nullopt, options);
    CHECK(padded.tokens == std::vector<std::string>{"<s>", "a", "</s>", "<pad>", "<pad>", "<pad>", "<pad>", "<pad>",
                                                    "<pad>", "<pad>", "<pad>", "<pad>"});
    CHECK(padded.attention_mask[3] == 0);
  }
  SECTION("tokenize() trims the spaces out of byte-level offsets and keeps code point offsets") {
    const auto tokens = roberta.tokenize("가 나");
    REQUIRE(tokens.size() >= 2);
    CHECK(tokens.front().begin == 0);
    CHECK(tokens.front().end == 1);
    CHECK(tokens.back().end == 3);
  }
  SECTION("tokenizer_config.json names the pad token") {
    const fs::path dir = electra::test::fresh_dir("tokenizer_pipeline_config");
    fs::copy_file(kPipeline / "xlmr" / "tokenizer.json", dir / "tokenizer.json");
    electra::write_file_atomic(dir / "tokenizer_config.json", R"({"pad_token": "<unk>", "model_max_length": 64})");
    const Tokenizer t = Tokenizer::from_dir(dir);
    CHECK(t.pad_id() == 3);
    CHECK(t.options().model_max_length == 64);
    CHECK(t.unk_id() == 3);
    electra::remove_tree(dir);
  }
}

TEST_CASE("pipeline tokenizer.json parts electra does not compute are refused naming the field", "[tokenizer]") {
  const fs::path dir = electra::test::fresh_dir("tokenizer_pipeline_refused");
  const std::string path = (dir / "tokenizer.json").string();
  auto error_with = [&](const char* kind, const std::function<void(json&)>& edit) -> std::string {
    json file = tokenizer_json(kind);
    edit(file);
    electra::write_file_atomic(dir / "tokenizer.json", file.dump());
    try {
      Tokenizer::from_dir(dir);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(error_with("xlmr", [](json& f) { f["normalizer"]["normalizers"][0] = json{{"type", "NFKC"}}; }) ==
        path + ": normalizer.normalizers[0].type: normalizer 'NFKC' is not supported (supported: Precompiled, "
               "Lowercase, Replace, Strip, Prepend, Nmt, Sequence)");
  CHECK(error_with("xlmr", [](json& f) { f["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AAAA"; }) ==
        path + ": normalizer.normalizers[0].precompiled_charsmap: 3 bytes, too short for a charsmap");
  CHECK(error_with("xlmr", [](json& f) { f["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AA*A"; }) ==
        path + ": normalizer.normalizers[0].precompiled_charsmap: not valid base64");
  CHECK(error_with("xlmr", [](json& f) {
          f["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "/////wAAAAA=";
        }) == path + ": normalizer.normalizers[0].precompiled_charsmap: trie size 4294967295 does not fit the 8 bytes");
  CHECK(error_with("xlmr", [](json& f) { f["normalizer"]["normalizers"][1]["pattern"]["Regex"] = "\\s+"; }) ==
        path + ": normalizer.normalizers[1].pattern.Regex: '\\s+' is not supported (only a literal, \"c+\" or \"c{n,}\")");
  CHECK(error_with("xlmr", [](json& f) { f["model"]["byte_fallback"] = true; }) ==
        path + ": model.byte_fallback: true is not supported");
  CHECK(error_with("xlmr", [](json& f) { f["pre_tokenizer"] = json{{"type", "Whitespace"}}; }) ==
        path + ": pre_tokenizer.type: pre-tokenizer 'Whitespace' is not supported (supported: ByteLevel, Metaspace, "
               "WhitespaceSplit, Sequence)");
  CHECK(error_with("roberta", [](json& f) { f["model"]["dropout"] = 0.1; }) ==
        path + ": model.dropout: 0.1 is not supported (only null)");
  CHECK(error_with("roberta", [](json& f) { f["model"]["merges"][0] = json::array({"Ġ", "zzz"}); })
            .find("model: merge 0 ('Ġ zzz'): 'zzz' is not in the vocabulary") != std::string::npos);
  CHECK(error_with("roberta", [](json& f) { f["post_processor"]["cls"][1] = 7; }) ==
        path + ": post_processor: special token '<s>' has id 7 but the vocabulary gives it 0");
  CHECK(error_with("roberta", [](json& f) { f["post_processor"] = json{{"type", "Sequence"}}; })
            .find("post_processor.type: 'Sequence' is not supported") != std::string::npos);
  CHECK(error_with("roberta", [](json& f) { f["added_tokens"][4]["single_word"] = true; }) ==
        path + ": added_tokens[4]: added token '<mask>': single_word must be false, and normalized too where there is "
               "a normalizer");
  CHECK(error_with("xlmr", [](json& f) { f["added_tokens"][4]["normalized"] = true; }).find("added_tokens[4]") !=
        std::string::npos);
  CHECK(error_with("roberta", [](json& f) { f["added_tokens"][4]["special"] = false; }) ==
        path + ": added_tokens[4].special: the non-special added token '<mask>' is not supported");
  CHECK(error_with("xlmr", [](json& f) { f["model"]["unk_id"] = 100000; }).find("model.unk_id: expected an index") !=
        std::string::npos);
  electra::remove_tree(dir);
}
