#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/files.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "tokenizer/text_lines.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

namespace fs = std::filesystem;
using electra::EncodeOptions;
using electra::Encoding;
using electra::Padding;
using electra::Tokenizer;
using electra::TokenizerOptions;
using electra::Truncation;
using nlohmann::json;

const fs::path kFixtures = fs::path(electra::test::fixtures_dir()) / "tokenizer";

std::vector<std::string> token_texts(const std::vector<electra::Token>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(t.text);
  return out;
}

std::vector<std::vector<int64_t>> offset_lists(const Encoding& e) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& [b, end] : e.offsets) out.push_back({b, end});
  return out;
}

// A tokenizer over a small vocabulary written on the spot.
Tokenizer tiny_tokenizer(const std::vector<std::string>& pieces, TokenizerOptions options = {}) {
  std::unordered_map<std::string, int64_t> vocab;
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    vocab.emplace(special, static_cast<int64_t>(vocab.size()));
  }
  for (const std::string& piece : pieces) vocab.emplace(piece, static_cast<int64_t>(vocab.size()));
  return Tokenizer(std::move(vocab), std::move(options));
}

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

fs::path fresh_dir(const std::string& name) { return electra::test::fresh_dir("tokenizer_" + name); }

}  // namespace

TEST_CASE("tokenizer matches Hugging Face on every fixture case", "[tokenizer]") {
  const json fixture = json::parse(electra::read_file(kFixtures / "tokenizer_cases.json"));
  REQUIRE(fixture["cases"].size() == 3);
  for (const json& option_set : fixture["cases"]) {
    const std::string name = option_set["options"].get<std::string>();
    TokenizerOptions options;
    options.do_lower_case = option_set["kwargs"]["lowercase"].get<bool>();
    if (!option_set["kwargs"]["strip_accents"].is_null()) {
      options.strip_accents = option_set["kwargs"]["strip_accents"].get<bool>();
    }
    auto files = Tokenizer::from_files(kFixtures / "vocab.txt", std::nullopt);
    const Tokenizer tokenizer(
        [&] {
          std::unordered_map<std::string, int64_t> vocab;
          for (int64_t id = 0; id < files.vocab_size(); ++id) vocab[files.id_to_token(id)] = id;
          return vocab;
        }(),
        options);
    REQUIRE(tokenizer.vocab_size() == 8000);

    int mismatches = 0;
    const EncodeOptions no_limit{0, Truncation::none, Padding::none};
    for (const json& c : option_set["single"]) {
      const std::string text = c["text"].get<std::string>();
      const Encoding e = tokenizer.encode(text, std::nullopt, no_limit);
      const std::vector<std::string> tokens(e.tokens.begin() + 1, e.tokens.end() - 1);
      const bool same = tokens == c["tokens"].get<std::vector<std::string>>() &&
                        e.input_ids == c["input_ids"].get<std::vector<int64_t>>() &&
                        offset_lists(e) == c["offsets"].get<std::vector<std::vector<int64_t>>>();
      if (!same && ++mismatches <= 5) {
        WARN(fmt::format("{}: {}\n  expected {} {}\n  got {} {}", name, json(text).dump(), c["tokens"].dump(),
                         c["offsets"].dump(), json(tokens).dump(), json(offset_lists(e)).dump()));
      }
    }
    CHECK(option_set["single"].size() == 633);

    int errors = 0;
    for (const json& c : option_set["pair"]) {
      const EncodeOptions options{c["max_length"].get<int64_t>(),
                                  electra::parse_truncation(c["truncation"].get<std::string>()), Padding::max_length};
      const std::string a = c["a"].get<std::string>(), b = c["b"].get<std::string>();
      if (c.contains("error")) {
        ++errors;
        CHECK_THROWS_AS(tokenizer.encode(a, b, options), std::invalid_argument);
        continue;
      }
      const Encoding e = tokenizer.encode(a, b, options);
      const bool same = e.input_ids == c["input_ids"].get<std::vector<int64_t>>() &&
                        e.token_type_ids == c["token_type_ids"].get<std::vector<int64_t>>() &&
                        e.attention_mask == c["attention_mask"].get<std::vector<int64_t>>();
      if (!same && ++mismatches <= 5) {
        WARN(fmt::format("{} pair ({}): {} | {}\n  expected {}\n  got {}", name, c["truncation"].get<std::string>(),
                         json(a).dump(), json(b).dump(), c["input_ids"].dump(), json(e.input_ids).dump()));
      }
    }
    CHECK(option_set["pair"].size() == 200);
    CHECK(errors > 0);
    INFO(name);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("tokenizer gives the seed README's TUNiB examples", "[tokenizer]") {
  TokenizerOptions cased;
  cased.do_lower_case = false;
  const Tokenizer tokenizer = tiny_tokenizer({"tun", "##ib", "is", "a", "natural", "language", "processing", "tech",
                                              "startup", ".", "튜", "##닙", "##은", "자연", "##어", "##처리", "테크",
                                              "스타트업", "##입니다", "##트", "스타", "##업"},
                                             cased);
  CHECK(token_texts(tokenizer.tokenize("tunib is a natural language processing tech startup.")) ==
        std::vector<std::string>{"tun", "##ib", "is", "a", "natural", "language", "processing", "tech", "startup",
                                 "."});
  const auto korean = tokenizer.tokenize("튜닙은 자연어처리 테크 스타트업입니다.");
  CHECK(token_texts(korean) == std::vector<std::string>{"튜", "##닙", "##은", "자연", "##어", "##처리", "테크",
                                                        "스타트업", "##입니다", "."});
  REQUIRE(korean.size() == 10);
  CHECK(korean[4].begin == 6);  // 어 in code points, not bytes
  CHECK(korean[4].end == 7);
  CHECK(korean[9].begin == 20);
  CHECK(korean[9].end == 21);
}

TEST_CASE("tokenizer handles empty, blank and very long text", "[tokenizer]") {
  TokenizerOptions cased;
  cased.do_lower_case = false;
  const Tokenizer tokenizer = tiny_tokenizer({"a", "##b", "한", "##글", "."}, cased);
  const EncodeOptions no_limit{0, Truncation::none, Padding::none};
  for (const char* text : {"", "   ", "\t\n\r ", "\u3000\u00a0\u2028"}) {
    const Encoding e = tokenizer.encode(text, std::nullopt, no_limit);
    CHECK(e.tokens == std::vector<std::string>{"[CLS]", "[SEP]"});
    CHECK(e.offsets == std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 0}});
  }
  CHECK(tokenizer.tokenize("").empty());

  SECTION("a 1 MB line") {
    std::string line;
    while (line.size() < (1u << 20)) line += "ab 한글. ";
    const auto start = std::chrono::steady_clock::now();
    const auto tokens = tokenizer.tokenize(line);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const size_t words = line.size() / std::string("ab 한글. ").size();
    REQUIRE(tokens.size() == 5 * words);
    CHECK(tokens.back().text == ".");
    CHECK(tokens.back().end == static_cast<int64_t>(words * 7 - 1));  // 7 code points per repeat, minus the space
    CHECK(seconds < 5.0);  // a generous bound that only a quadratic blow-up breaks
  }

  SECTION("a 1 MB word is one unknown token") {
    const std::string word(1u << 20, 'a');
    const auto tokens = tokenizer.tokenize(word);
    REQUIRE(tokens.size() == 1);
    CHECK(tokens[0].text == "[UNK]");
    CHECK(tokens[0].end == static_cast<int64_t>(word.size()));
  }
}

TEST_CASE("tokenizer rejects invalid UTF-8", "[tokenizer]") {
  const Tokenizer tokenizer = tiny_tokenizer({"a"});
  for (const std::string& bad : {std::string("a\xff"), std::string("\x80"), std::string("a\xc3"),
                                std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
                                std::string("\xe4\xb8"), std::string("x\xe4\xb8y")}) {
    CHECK_THROWS_AS(tokenizer.tokenize(bad), std::runtime_error);
    CHECK_THROWS_AS(tokenizer.encode("a", bad, {}), std::runtime_error);
  }
  CHECK_THROWS_WITH(tokenizer.tokenize("ab\xff"), "invalid UTF-8 at byte 2 of the text");
}

TEST_CASE("tokenizer normalises like tokenizers' BertNormalizer", "[tokenizer]") {
  SECTION("lowercasing follows Rust's full mapping: U+0130 becomes i + U+0307, both aligned to it") {
    TokenizerOptions keep_accents;
    keep_accents.strip_accents = false;
    const Tokenizer tokenizer = tiny_tokenizer({"i", "##i", "##\u0307", "x"}, keep_accents);
    const auto tokens = tokenizer.tokenize("x\u0130");
    REQUIRE(token_texts(tokens) == std::vector<std::string>{"x", "##i", "##\u0307"});
    CHECK(tokens[2].begin == 1);
    CHECK(tokens[2].end == 2);
    const auto alone = tokenizer.tokenize("\u0130");
    REQUIRE(token_texts(alone) == std::vector<std::string>{"i", "##\u0307"});
    CHECK(alone[0].begin == 0);
    CHECK(alone[0].end == 1);
    CHECK(alone[1].begin == 0);
    CHECK(alone[1].end == 1);
  }
  SECTION("accent stripping decomposes, drops Mn and keeps offsets on the original characters") {
    const Tokenizer tokenizer = tiny_tokenizer({"cafe", "e", "##e", "a"});
    const auto tokens = tokenizer.tokenize("CAFÉ e\u0301\u0300e");
    REQUIRE(token_texts(tokens) == std::vector<std::string>{"cafe", "e", "##e"});
    CHECK(tokens[0].end == 4);
    CHECK(tokens[1].begin == 5);
    CHECK(tokens[1].end == 6);
    CHECK(tokens[2].begin == 8);
    CHECK(tokens[2].end == 9);
  }
  SECTION("a spacing mark that decomposes to ASCII punctuation splits the word") {
    const Tokenizer tokenizer = tiny_tokenizer({"a", "b", "`"});
    CHECK(token_texts(tokenizer.tokenize("a\u1fefb")) == std::vector<std::string>{"a", "`", "b"});
    TokenizerOptions cased;
    cased.do_lower_case = false;
    CHECK(token_texts(tiny_tokenizer({"a", "b", "`"}, cased).tokenize("a\u1fefb")) ==
          std::vector<std::string>{"[UNK]"});
  }
  SECTION("controls are removed, not turned into spaces; specials are matched in the raw text") {
    TokenizerOptions cased;
    cased.do_lower_case = false;
    const Tokenizer tokenizer = tiny_tokenizer({"a", "##b", "b", "[", "]", "CLS", "cl", "##s"}, cased);
    CHECK(token_texts(tokenizer.tokenize("a\x0b\x0c\x7f\xc2\x85" "b")) == std::vector<std::string>{"a", "##b"});
    const auto tokens = tokenizer.tokenize("a[CLS]b[cls]");
    CHECK(token_texts(tokens) == std::vector<std::string>{"a", "[CLS]", "b", "[", "cl", "##s", "]"});
    CHECK(tokens[1].begin == 1);
    CHECK(tokens[1].end == 6);
  }
  SECTION("CJK ideographs become words unless tokenize_chinese_chars is off") {
    TokenizerOptions options;
    options.do_lower_case = false;
    CHECK(token_texts(tiny_tokenizer({"漢", "字", "##字"}, options).tokenize("漢字")) ==
          std::vector<std::string>{"漢", "字"});
    options.tokenize_chinese_chars = false;
    CHECK(token_texts(tiny_tokenizer({"漢", "字", "##字"}, options).tokenize("漢字")) ==
          std::vector<std::string>{"漢", "##字"});
  }
  SECTION("words over 100 characters are unknown, 100 are not") {
    const Tokenizer tokenizer = tiny_tokenizer({"a", "##a"});
    CHECK(tokenizer.tokenize(std::string(100, 'a')).size() == 100);
    CHECK(token_texts(tokenizer.tokenize(std::string(101, 'a'))) == std::vector<std::string>{"[UNK]"});
  }
}

TEST_CASE("tokenizer encodes pairs with truncation and padding", "[tokenizer]") {
  const Tokenizer tokenizer = tiny_tokenizer({"a", "b", "c", "d", "e", "f", "g", "h"});
  const std::string seven = "a b c d e f g", two = "h h";

  SECTION("longest_first trims the longer sequence first") {
    const Encoding e = tokenizer.encode(seven, two, {8, Truncation::longest_first, Padding::none});
    CHECK(e.tokens == std::vector<std::string>{"[CLS]", "a", "b", "c", "[SEP]", "h", "h", "[SEP]"});
    CHECK(e.token_type_ids == std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1});
    CHECK(e.sequence_ids == std::vector<int>{-1, 0, 0, 0, -1, 1, 1, -1});
    CHECK(e.offsets[6] == std::pair<int64_t, int64_t>{2, 3});  // offsets into text_pair
    // equal budgets: tokenizers gives the first sequence the floor, the second the ceiling
    const Encoding even = tokenizer.encode(seven, seven, {8, Truncation::longest_first, Padding::none});
    CHECK(even.tokens == std::vector<std::string>{"[CLS]", "a", "b", "[SEP]", "a", "b", "c", "[SEP]"});
  }
  SECTION("longest_first compares lengths as tokenizers sees them: cut after the word reaching max_length") {
    const Tokenizer t = tiny_tokenizer({"a", "b", "y", "##y"});
    auto split = [&](const std::string& a, const std::string& b, int64_t max_length) {
      const Encoding e = t.encode(a, b, {max_length, Truncation::longest_first, Padding::none});
      const auto first = std::count(e.sequence_ids.begin(), e.sequence_ids.end(), 0);
      return std::pair<long, long>(first, std::count(e.sequence_ids.begin(), e.sequence_ids.end(), 1));
    };
    const std::string nine_b = "b b b b b b b b b";
    CHECK(split("a a a a a a a a a a", nine_b, 10) == std::pair<long, long>{4, 3});
    CHECK(split("a a a a a a a a a a a", nine_b + " b", 10) == std::pair<long, long>{3, 4});  // both seen as 10
    CHECK(split("yyyyy yyyyy", nine_b, 8) == std::pair<long, long>{3, 2});  // 10 tokens: words are not cut
    CHECK(split("yyyy yyyy a", nine_b, 8) == std::pair<long, long>{2, 3});  // stops at 8, before "a"
    // special tokens in the text count but never stop it themselves
    CHECK(split("a a a a a a a [CLS] a", nine_b, 8) == std::pair<long, long>{3, 2});
    CHECK(split("a a a a a a [CLS] a a", nine_b, 8) == std::pair<long, long>{2, 3});
    const auto tokens = t.tokenize("a a a a a a a [CLS] a");
    CHECK(t.encode_tokens(tokens, t.tokenize(nine_b), {8, Truncation::longest_first, Padding::none}).input_ids ==
          t.encode("a a a a a a a [CLS] a", nine_b, {8, Truncation::longest_first, Padding::none}).input_ids);
  }
  SECTION("only_second and only_first, and their errors") {
    const Encoding e = tokenizer.encode(two, seven, {8, Truncation::only_second, Padding::max_length});
    CHECK(e.tokens == std::vector<std::string>{"[CLS]", "h", "h", "[SEP]", "a", "b", "c", "[SEP]"});
    CHECK_THROWS_AS(tokenizer.encode(seven, two, {6, Truncation::only_second, Padding::none}), std::invalid_argument);
    CHECK_THROWS_AS(tokenizer.encode(two, seven, {6, Truncation::only_first, Padding::none}), std::invalid_argument);
    CHECK_THROWS_AS(tokenizer.encode(seven, std::nullopt, {4, Truncation::only_second, Padding::none}),
                    std::invalid_argument);
    CHECK(tokenizer.encode(seven, std::nullopt, {4, Truncation::only_first, Padding::none}).tokens.size() == 4);
  }
  SECTION("max_length below the special tokens truncates nothing but stops the sequences as tokenizers does") {
    // Expected values: BertTokenizerFast (transformers 5.17, tokenizers 0.23.1) on the same vocabulary and texts.
    using Tokens = std::vector<std::string>;
    auto tokens = [&](const std::string& a, std::optional<std::string_view> b, int64_t max_length, Truncation t) {
      return tokenizer.encode(a, b, {max_length, t, Padding::none}).tokens;
    };
    CHECK(tokens(seven, two, 2, Truncation::longest_first) == Tokens{"[CLS]", "a", "b", "[SEP]", "h", "h", "[SEP]"});
    CHECK(tokens(seven, two, 2, Truncation::only_first) == Tokens{"[CLS]", "a", "b", "[SEP]", "h", "h", "[SEP]"});
    CHECK(tokens(seven, two, 1, Truncation::only_first) == Tokens{"[CLS]", "a", "[SEP]", "h", "[SEP]"});
    CHECK(tokens(seven, two, 2, Truncation::only_second) ==
          Tokens{"[CLS]", "a", "b", "c", "d", "e", "f", "g", "[SEP]", "h", "h", "[SEP]"});
    CHECK(tokens(seven, std::nullopt, 1, Truncation::longest_first) == Tokens{"[CLS]", "a", "[SEP]"});
    CHECK(tokens(seven, std::nullopt, 1, Truncation::only_second) ==
          Tokens{"[CLS]", "a", "b", "c", "d", "e", "f", "g", "[SEP]"});
    // Exactly the special tokens: no text is left, whatever the strategy.
    CHECK(tokens(seven, two, 3, Truncation::only_second) == Tokens{"[CLS]", "[SEP]", "[SEP]"});
    CHECK(tokens(seven, std::nullopt, 2, Truncation::only_second) == Tokens{"[CLS]", "[SEP]"});
  }
  SECTION("padding to max_length, to the longest of a batch, and no truncation") {
    const Encoding e = tokenizer.encode("a", std::nullopt, {5, Truncation::longest_first, Padding::max_length});
    CHECK(e.input_ids == std::vector<int64_t>{2, 5, 3, 0, 0});
    CHECK(e.attention_mask == std::vector<int64_t>{1, 1, 1, 0, 0});
    CHECK(e.tokens.back() == "[PAD]");
    CHECK_THROWS_AS(tokenizer.encode("a", std::nullopt, {0, Truncation::none, Padding::max_length}),
                    std::invalid_argument);
    const auto batch = tokenizer.encode_batch({{"a", std::nullopt}, {seven, two}, {"b", std::string_view("c")}},
                                              {0, Truncation::none, Padding::longest});
    REQUIRE(batch.size() == 3);
    for (const Encoding& b : batch) CHECK(b.input_ids.size() == 12);
    CHECK(batch[0].attention_mask[3] == 0);
    CHECK(tokenizer.encode(seven, std::nullopt, {4, Truncation::none, Padding::none}).tokens.size() == 9);
  }
  SECTION("encode_tokens builds from given pieces") {
    auto pieces = tokenizer.tokenize("a b");
    const Encoding e = tokenizer.encode_tokens(pieces, std::vector<electra::Token>{}, {});
    CHECK(e.tokens == std::vector<std::string>{"[CLS]", "a", "b", "[SEP]", "[SEP]"});
  }
  CHECK(electra::parse_truncation("only_first") == Truncation::only_first);
  CHECK(electra::parse_padding("longest") == Padding::longest);
  CHECK_THROWS_AS(electra::parse_truncation("longest"), std::invalid_argument);
  CHECK_THROWS_AS(electra::parse_padding("max"), std::invalid_argument);
}

TEST_CASE("tokenizer reads vocab.txt and tokenizer_config.json", "[tokenizer]") {
  const fs::path dir = fresh_dir("files");
  {
    std::ofstream vocab(dir / "vocab.txt", std::ios::binary);
    vocab << "[PAD]\n[UNK]\r\n[CLS]\n[SEP]\n[MASK]\nhello\nÉcole\nhello\n";
  }
  SECTION("defaults: lowercase, strip accents; repeated entries keep the last id") {
    const Tokenizer t = Tokenizer::from_dir(dir);
    CHECK(t.vocab_size() == 8);
    CHECK(t.unk_id() == 1);
    CHECK(t.token_to_id("hello") == 7);
    CHECK(t.id_to_token(5) == "hello");
    CHECK(t.token_to_id("missing") == 1);
    CHECK(t.options().do_lower_case);
    CHECK(token_texts(t.tokenize("HELLO École")) == std::vector<std::string>{"hello", "[UNK]"});
    CHECK_THROWS_AS(t.id_to_token(8), std::invalid_argument);
  }
  SECTION("a config: cased, strip_accents null follows do_lower_case, tokens as AddedToken objects") {
    electra::write_file_atomic(
        dir / "tokenizer_config.json",
        R"({"do_lower_case": false, "strip_accents": null, "model_max_length": 1000000000000000019884624838656,
            "unk_token": {"content": "[UNK]", "lstrip": false}, "tokenizer_class": "ElectraTokenizer"})");
    const Tokenizer t = Tokenizer::from_dir(dir);
    CHECK_FALSE(t.options().do_lower_case);
    CHECK_FALSE(t.options().strip_accents.has_value());
    CHECK(t.options().model_max_length == 0);
    CHECK(token_texts(t.tokenize("HELLO École")) == std::vector<std::string>{"[UNK]", "École"});
  }
  SECTION("bad files say which file and key") {
    electra::write_file_atomic(dir / "tokenizer_config.json", R"({"do_lower_case": "yes"})");
    CHECK_THROWS_AS(Tokenizer::from_dir(dir), std::runtime_error);
    electra::write_file_atomic(dir / "tokenizer_config.json", R"({"unk_token": "<unk>"})");
    CHECK(error_of([&] { Tokenizer::from_dir(dir); }).find("unk_token '<unk>'") != std::string::npos);
    electra::write_file_atomic(dir / "tokenizer_config.json", "{");
    CHECK_THROWS_AS(Tokenizer::from_dir(dir), std::runtime_error);
    fs::remove(dir / "tokenizer_config.json");
    electra::write_file_atomic(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nbad\xff\n");
    CHECK(error_of([&] { Tokenizer::from_dir(dir); }).find("vocab.txt:5: invalid UTF-8") != std::string::npos);
    CHECK_THROWS_AS(Tokenizer::from_dir(dir / "missing"), std::runtime_error);
  }
  SECTION("a vocabulary without [PAD] is accepted, as Hugging Face accepts it; only padding needs it") {
    electra::write_file_atomic(dir / "vocab.txt", "[UNK]\n[CLS]\n[SEP]\nhello\n");
    const Tokenizer t = Tokenizer::from_dir(dir);
    CHECK(t.pad_id() == -1);
    EncodeOptions o;
    o.padding = Padding::none;
    CHECK(t.encode("hello", std::nullopt, o).input_ids == std::vector<int64_t>{1, 3, 2});
    o.padding = Padding::max_length;
    o.max_length = 3;  // already full: nothing to pad
    CHECK(t.encode("hello", std::nullopt, o).input_ids.size() == 3);
    o.max_length = 8;
    try {
      t.encode("hello", std::nullopt, o);
      FAIL("no error");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("pad_token '[PAD]'") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(Tokenizer({{"a", 0}}, TokenizerOptions()), std::invalid_argument);
  electra::remove_tree(dir);
}

namespace {

// Encodes every fixture text and pair with both tokenizers; returns how many encodings differ.
int encoding_mismatches(const Tokenizer& expected, const Tokenizer& actual, const json& option_set) {
  int mismatches = 0;
  const EncodeOptions no_limit{0, Truncation::none, Padding::none};
  for (const json& c : option_set["single"]) {
    const std::string text = c["text"].get<std::string>();
    const Encoding a = expected.encode(text, std::nullopt, no_limit), b = actual.encode(text, std::nullopt, no_limit);
    mismatches += a.tokens != b.tokens || a.input_ids != b.input_ids || offset_lists(a) != offset_lists(b);
  }
  for (const json& c : option_set["pair"]) {
    if (c.contains("error")) continue;
    const EncodeOptions options{c["max_length"].get<int64_t>(),
                                electra::parse_truncation(c["truncation"].get<std::string>()), Padding::max_length};
    const std::string a = c["a"].get<std::string>(), b = c["b"].get<std::string>();
    const Encoding x = expected.encode(a, b, options), y = actual.encode(a, b, options);
    mismatches += x.input_ids != y.input_ids || x.token_type_ids != y.token_type_ids ||
                  x.attention_mask != y.attention_mask || offset_lists(x) != offset_lists(y);
  }
  return mismatches;
}

json fixture_tokenizer_json(const std::string& folder) {
  return json::parse(electra::read_file(kFixtures / folder / "tokenizer.json"));
}

}  // namespace

TEST_CASE("tokenizer reads a tokenizer.json-only folder like the vocab.txt folder", "[tokenizer]") {
  const json fixture = json::parse(electra::read_file(kFixtures / "tokenizer_cases.json"));
  const fs::path dir = fresh_dir("json_only");
  const std::string vocab_txt = electra::read_file(kFixtures / "vocab.txt");

  SECTION("tokenizers' BertWordPieceTokenizer file (BertProcessing), each option set, plain and in a Sequence") {
    for (const json& option_set : fixture["cases"]) {
      for (const bool sequence : {false, true}) {
        json file = fixture_tokenizer_json("wordpiece");
        file["normalizer"]["lowercase"] = option_set["kwargs"]["lowercase"];
        file["normalizer"]["strip_accents"] = option_set["kwargs"]["strip_accents"];
        if (sequence) file["normalizer"] = json{{"type", "Sequence"}, {"normalizers", json::array({file["normalizer"]})}};
        electra::write_file_atomic(dir / "tokenizer.json", file.dump());
        const Tokenizer from_json = Tokenizer::from_dir(dir);

        TokenizerOptions options;
        options.do_lower_case = option_set["kwargs"]["lowercase"].get<bool>();
        if (!option_set["kwargs"]["strip_accents"].is_null()) {
          options.strip_accents = option_set["kwargs"]["strip_accents"].get<bool>();
        }
        std::unordered_map<std::string, int64_t> vocab;
        const Tokenizer files = Tokenizer::from_files(kFixtures / "vocab.txt", std::nullopt);
        for (int64_t id = 0; id < files.vocab_size(); ++id) vocab[files.id_to_token(id)] = id;
        const Tokenizer from_txt(std::move(vocab), options);

        INFO(option_set["options"].get<std::string>() << (sequence ? " in a Sequence" : ""));
        CHECK(from_json.vocab_size() == 8000);
        CHECK(from_json.options().do_lower_case == options.do_lower_case);
        CHECK(from_json.options().strip_accents == options.strip_accents);
        CHECK(from_json.vocab_txt() == vocab_txt);
        CHECK(from_json.cls_id() == 2);
        CHECK(from_json.sep_id() == 3);
        CHECK(encoding_mismatches(from_txt, from_json, option_set) == 0);
      }
    }
  }
  SECTION("transformers 5's save_pretrained (TemplateProcessing, no vocab.txt) equals vocab.txt + its config") {
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
      fs::copy_file(kFixtures / "transformers5" / name, dir / name, fs::copy_options::overwrite_existing);
    }
    const fs::path txt_dir = fresh_dir("json_only_txt");
    electra::write_file_atomic(txt_dir / "vocab.txt", vocab_txt);
    fs::copy_file(kFixtures / "transformers5" / "tokenizer_config.json", txt_dir / "tokenizer_config.json");
    const Tokenizer from_json = Tokenizer::from_dir(dir), from_txt = Tokenizer::from_dir(txt_dir);
    CHECK_FALSE(from_json.options().do_lower_case);
    CHECK(from_json.options().model_max_length == 0);
    CHECK(from_json.vocab_txt() == vocab_txt);
    CHECK(encoding_mismatches(from_txt, from_json, fixture["cases"][0]) == 0);
    CHECK(token_texts(from_json.tokenize("Tunib [MASK]x")) == token_texts(from_txt.tokenize("Tunib [MASK]x")));

    // transformers 5's BertTokenizer rebuilds its normalizer from tokenizer_config.json's keys (absent: HF's
    // defaults), so the config decides; without a config, tokenizer.json's normalizer does.
    electra::write_file_atomic(dir / "tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
    CHECK(Tokenizer::from_dir(dir).options().do_lower_case);
    fs::remove(dir / "tokenizer_config.json");
    CHECK_FALSE(Tokenizer::from_dir(dir).options().do_lower_case);

    // vocab.txt, when there, is read as before and tokenizer.json is not looked at.
    json bpe = fixture_tokenizer_json("transformers5");
    bpe["model"]["type"] = "BPE";
    electra::write_file_atomic(txt_dir / "tokenizer.json", bpe.dump());
    CHECK(Tokenizer::from_dir(txt_dir).vocab_size() == 8000);
    electra::remove_tree(txt_dir);
  }
  SECTION("max_input_chars_per_word is followed") {
    json file = fixture_tokenizer_json("wordpiece");
    file["model"]["max_input_chars_per_word"] = 3;
    electra::write_file_atomic(dir / "tokenizer.json", file.dump());
    const Tokenizer t = Tokenizer::from_dir(dir);
    CHECK(token_texts(t.tokenize("the tunib")) == std::vector<std::string>{"the", "[UNK]"});
  }
  SECTION("what electra cannot represent is refused naming tokenizer.json and the field") {
    const json good = fixture_tokenizer_json("wordpiece");
    auto error_with = [&](const std::function<void(json&)>& edit) {
      json file = good;
      edit(file);
      electra::write_file_atomic(dir / "tokenizer.json", file.dump());
      return error_of([&] { Tokenizer::from_dir(dir); });
    };
    const std::string path = (dir / "tokenizer.json").string();
    CHECK(error_with([](json& f) { f["model"]["type"] = "WordLevel"; }) ==
          path + ": model.type: 'WordLevel' is not supported (known: WordPiece, BPE, Unigram)");
    CHECK(error_with([](json& f) { f["model"]["type"] = "BPE"; }) ==
          path + ": model.continuing_subword_prefix: \"##\" is not supported (only null)");
    CHECK(error_with([](json& f) { f["model"] = json{{"type", "Unigram"}, {"vocab", json::array()}}; }) ==
          path + ": model: missing key 'unk_id'");
    CHECK(error_with([](json& f) { f["model"]["vocab"].erase("the"); f["model"]["vocab"]["zzz"] = 8000; })
              .find("model.vocab: token 'zzz' has id 8000, past the 8000 entries: the ids have a gap") !=
          std::string::npos);
    CHECK(error_with([](json& f) { f["model"]["vocab"]["zzz"] = 7; }).find("model.vocab: id 7 is given to both") !=
          std::string::npos);
    CHECK(error_with([](json& f) { f["model"]["vocab"]["zzz"] = -1; }).find("model.vocab: token 'zzz' has id -1") !=
          std::string::npos);
    CHECK(error_with([](json& f) { f["model"]["continuing_subword_prefix"] = "@@"; }) ==
          path + ": model.continuing_subword_prefix: '@@' is not supported (only '##')");
    CHECK(error_with([](json& f) { f["normalizer"] = json{{"type", "NFKC"}}; }) ==
          path + ": normalizer.type: normalizer 'NFKC' is not supported (only BertNormalizer)");
    CHECK(error_with([](json& f) {
            f["normalizer"] = json{{"type", "Sequence"}, {"normalizers", json::array({json{{"type", "Lowercase"}}})}};
          }) == path + ": normalizer.normalizers[0].type: normalizer 'Lowercase' is not supported (only BertNormalizer)");
    CHECK(error_with([](json& f) { f["normalizer"]["clean_text"] = false; }).find("normalizer.clean_text") !=
          std::string::npos);
    CHECK(error_with([](json& f) { f["normalizer"] = nullptr; }).find(": normalizer: null is not supported") !=
          std::string::npos);
    CHECK(error_with([](json& f) { f["pre_tokenizer"] = json{{"type", "Whitespace"}}; })
              .find(": pre_tokenizer: only BertPreTokenizer is supported") != std::string::npos);
    CHECK(error_with([](json& f) { f["post_processor"] = json{{"type", "RobertaProcessing"}}; })
              .find(": post_processor.type: 'RobertaProcessing' is not supported") != std::string::npos);
    CHECK(error_with([](json& f) { f["post_processor"]["cls"][1] = 5; })
              .find("special token '[CLS]' has id 5 but the vocabulary gives it 2") != std::string::npos);
    CHECK(error_with([](json& f) { f["model"]["unk_token"] = "<unk>"; })
              .find("model.unk_token: '<unk>' is not in model.vocab") != std::string::npos);
    CHECK(error_with([](json& f) {
            f["added_tokens"].push_back(json{{"id", 8000}, {"content", "<new>"}, {"special", true}});
          }).find("added_tokens[5]: added token '<new>' with id 8000") != std::string::npos);
    CHECK(error_with([](json& f) { f["added_tokens"][4]["normalized"] = true; }).find("added_tokens[4]") !=
          std::string::npos);
    CHECK(error_with([](json& f) { f.erase("model"); }) == path + ": model: missing key 'model'");
    electra::write_file_atomic(dir / "tokenizer.json", "{");
    CHECK(error_of([&] { Tokenizer::from_dir(dir); }).find("tokenizer.json: invalid JSON") != std::string::npos);
  }
  electra::remove_tree(dir);
}

TEST_CASE("text lines read text and text_pair, and name the file and the first bad line", "[tokenizer]") {
  using electra::parse_json_line;
  using electra::read_text_input;
  const auto pair = read_text_input(parse_json_line(R"({"text": "a", "text_pair": "b"})"));
  CHECK(pair.text == "a");
  CHECK(pair.pair() == std::optional<std::string_view>("b"));
  CHECK_FALSE(read_text_input(parse_json_line(R"({"text": "a", "text_pair": null})")).text_pair.has_value());
  CHECK(error_of([] { parse_json_line("{not json"); }).rfind("invalid JSON: ", 0) == 0);
  CHECK(error_of([] { parse_json_line("[1]"); }) == "expected a JSON object");
  CHECK(error_of([] { read_text_input(parse_json_line(R"({"text": 3})")); }) == "'text' is 3, not a string");
  CHECK(error_of([] { read_text_input(parse_json_line(R"({"text": "a", "text_pair": 1})")); }) ==
        "'text_pair' is 1, not a string or null");
  CHECK(error_of([] { read_text_input(parse_json_line(R"({"text_pair": "b"})")); }) == "missing 'text'");
  CHECK(error_of([] { read_text_input(parse_json_line(R"({"text": "a", "id": 1})")); }).find("unknown key 'id'") !=
        std::string::npos);
  CHECK_THROWS_AS(parse_json_line(""), std::runtime_error);

  const fs::path dir = fresh_dir("text_lines");
  electra::write_file_atomic(dir / "in.jsonl", "{\"text\": \"a\"}\nbad\n{}\n");
  electra::JsonLinesReader reader((dir / "in.jsonl").string());
  std::vector<std::string> errors;
  for (std::string line; reader.next(line);) {
    try {
      read_text_input(parse_json_line(line));
    } catch (const std::runtime_error& e) {
      errors.push_back(reader.fail(e.what()));
    }
  }
  CHECK(reader.line_number() == 3);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].rfind("line 2: invalid JSON", 0) == 0);
  CHECK(errors[1] == "line 3: missing 'text'");
  const std::string summary = error_of([&] { reader.finish("read"); });
  CHECK(summary.rfind((dir / "in.jsonl").string() + ": 2 of 3 lines could not be read (first: line 2: ", 0) == 0);
  CHECK(error_of([&] { electra::JsonLinesReader((dir / "none.jsonl").string()); }).find("none.jsonl") !=
        std::string::npos);
  electra::remove_tree(dir);
}

TEST_CASE("tokenize command encodes JSON lines and reports bad ones", "[tokenizer][cli]") {
  const fs::path dir = fresh_dir("cli");
  fs::copy_file(kFixtures / "vocab.txt", dir / "vocab.txt");
  electra::write_file_atomic(dir / "tokenizer_config.json", R"({"do_lower_case": false})");
  const Tokenizer tokenizer = Tokenizer::from_dir(dir);
  const std::string ko = "튜닙은 자연어처리 테크 스타트업입니다.", en = "tunib is a natural language processing.";

  auto run = [&](const std::string& input, const std::string& flags) {
    electra::write_file_atomic(dir / "in.jsonl", input);
    const std::string command =
        fmt::format("\"{}\" tokenize --model \"{}\" --input \"{}\" --output \"{}\" {} 2>\"{}\"", electra::test::electra_binary(),
                    dir.string(), (dir / "in.jsonl").string(), (dir / "out.jsonl").string(), flags,
                    (dir / "err.txt").string());
    const int status = std::system(command.c_str());
    std::vector<json> lines;
    std::istringstream out(electra::read_file(dir / "out.jsonl"));
    for (std::string line; std::getline(out, line);) lines.push_back(json::parse(line));
    return std::pair{status, lines};
  };

  SECTION("good lines match the library") {
    const auto [status, lines] = run(json{{"text", ko}}.dump() + "\n" + json{{"text", en}, {"text_pair", ko}}.dump() +
                                         "\n",
                                     "--max-length 16 --padding longest");
    CHECK(status == 0);
    REQUIRE(lines.size() == 2);
    const auto expected = tokenizer.encode_batch({{ko, std::nullopt}, {en, std::string_view(ko)}},
                                                 {16, Truncation::longest_first, Padding::longest});
    for (size_t i = 0; i < 2; ++i) {
      CHECK(lines[i]["tokens"].get<std::vector<std::string>>() == expected[i].tokens);
      CHECK(lines[i]["input_ids"].get<std::vector<int64_t>>() == expected[i].input_ids);
      CHECK(lines[i]["token_type_ids"].get<std::vector<int64_t>>() == expected[i].token_type_ids);
      CHECK(lines[i]["attention_mask"].get<std::vector<int64_t>>() == expected[i].attention_mask);
      CHECK(lines[i]["offsets"].get<std::vector<std::pair<int64_t, int64_t>>>() == expected[i].offsets);
    }
    CHECK(lines[0]["input_ids"].size() == 16);
  }
  SECTION("a bad line gets an error in its place and the exit status is non-zero") {
    const std::string input = json{{"text", en}}.dump() + "\n" + "{not json\n" + "{\"text\": \"bad \xff\"}\n" +
                              json{{"text", en}, {"text_pair", ko}}.dump() + "\n" + json{{"txt", en}}.dump() + "\n" +
                              json{{"text", ko}}.dump() + "\n";
    const auto [status, lines] = run(input, "--max-length 6 --truncation only_second");
    CHECK(status != 0);
    REQUIRE(lines.size() == 6);
    CHECK(lines[0].contains("error"));  // only_second without a pair
    CHECK(lines[1]["error"].get<std::string>().rfind("line 2: ", 0) == 0);
    CHECK(lines[2]["error"].get<std::string>().rfind("line 3: ", 0) == 0);
    CHECK(lines[3]["error"].get<std::string>().rfind("line 4: ", 0) == 0);  // the first text is too long
    CHECK(lines[4]["error"].get<std::string>().find("text") != std::string::npos);
    CHECK(lines[5].contains("error"));
    const auto [ok_status, ok_lines] = run(input, "--max-length 8 --padding max_length");
    CHECK(ok_status != 0);
    REQUIRE(ok_lines.size() == 6);
    CHECK(ok_lines[0]["input_ids"].size() == 8);
    CHECK(ok_lines[3]["input_ids"].get<std::vector<int64_t>>() ==
          tokenizer.encode(en, ko, {8, Truncation::longest_first, Padding::max_length}).input_ids);
    CHECK(ok_lines[5]["tokens"].size() == 8);
    CHECK(electra::read_file(dir / "err.txt").find("3 of 6 lines") != std::string::npos);
  }
  SECTION("--max-length is bounded before anything is padded") {
    for (const std::string flags : {"--max-length 100000000 --padding max_length", "--max-length 0"}) {
      electra::write_file_atomic(dir / "out.jsonl", "");
      const auto [status, lines] = run(json{{"text", en}}.dump() + "\n", flags);
      CHECK(status != 0);
      CHECK(lines.empty());
      CHECK(electra::read_file(dir / "err.txt").find("--max-length") != std::string::npos);
    }
  }
  electra::remove_tree(dir);
}

TEST_CASE("every character is classified, lowercased and accent-stripped as Hugging Face tokenizers does", "[tokenizer]") {
  // tools/unicode/regenerate.sh wrote this from tokenizers 0.23.2: every code point where its Unicode data and
  // utf8proc's disagree, every 20th code point it treats specially, and every 997th it leaves alone.
  namespace u = electra::unicode;
  std::istringstream in(electra::read_file(fs::path(electra::test::fixtures_dir()) / "tokenizer" / "unicode_reference_sample.tsv"));
  auto hex = [](const std::vector<u::AlignedChar>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:x}", i ? " " : "", static_cast<unsigned>(v[i].cp));
    return s;
  };
  size_t checked = 0, mismatched = 0;
  for (std::string line; std::getline(in, line);) {
    const auto cp = static_cast<char32_t>(std::stoul(line.substr(0, line.find('\t')), nullptr, 16));
    const uint8_t f = u::flags(cp);
    int bits = (f & u::kDrop) ? 1 : (f & u::kSpace) ? 2 : 0;
    if (f & u::kChinese) bits |= 4;
    if (!(bits & 3) && u::is_punct(cp)) bits |= 8;
    std::vector<u::AlignedChar> lowered, stripped;
    u::lowercase({{cp, 0}}, lowered);
    u::strip_accents({{cp, 0}}, stripped);
    const bool lower_changed = !(lowered.size() == 1 && lowered[0].cp == cp);
    const bool strip_changed = !(stripped.size() == 1 && stripped[0].cp == cp);
    const std::string ours = fmt::format("{:x}\t{}\t{}\t{}", static_cast<unsigned>(cp), bits,
                                         lower_changed ? hex(lowered) : "", strip_changed ? hex(stripped) : "=");
    ++checked;
    if (ours != line) {
      ++mismatched;
      if (mismatched <= 10) FAIL_CHECK("tokenizers: " << line << "\nelectra:    " << ours);
    }
  }
  CHECK(checked > 12000);
  CHECK(mismatched == 0);
}

TEST_CASE("a vocabulary with a repeated entry keeps Hugging Face's ids and says which entries repeat",
          "[tokenizer][cli]") {
  const fs::path dir = fresh_dir("repeated_vocab");
  electra::write_file_atomic(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nhello\n");
  electra::write_file_atomic(dir / "in.jsonl", "{\"text\": \"hello world\"}\n");
  const auto r = electra::test::run_electra(
      fmt::format("tokenize --model '{}' --input '{}'", dir.string(), (dir / "in.jsonl").string()));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(electra::test::contains(r.err, "vocab.txt: 1 entry repeat an earlier line: 'hello' (lines 6 and 8)"));
  const json line = json::parse(r.out);
  CHECK(line["input_ids"] == json::array({2, 7, 6, 3}));  // "hello" is 7, its last line, as tokenizers reads it
}
