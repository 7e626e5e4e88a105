// End to end: `electra init` writes a from-scratch model that the other commands load.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <string>

#include "common/files.h"
#include "tests/catch.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using electra::test::contains;
using electra::test::run_electra;
using nlohmann::json;

TEST_CASE("electra init writes a randomly initialised model in Hugging Face's layout", "[init]") {
  const fs::path dir = electra::test::fresh_dir("init");
  const fs::path vocab = fs::path(electra::test::fixtures_dir()) / "tokenizer" / "vocab.txt";
  const std::string vocab_text = electra::read_file(vocab);
  const auto lines = std::count(vocab_text.begin(), vocab_text.end(), '\n') + (vocab_text.back() == '\n' ? 0 : 1);
  const auto r = run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}' --cased --seed 7",
                                         vocab.string(), (dir / "m").string()));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "E=64 H=128 L=2 A=2 I=256"));
  const json config = json::parse(electra::read_file(dir / "m" / "config.json"));
  CHECK(config["vocab_size"] == lines);
  CHECK(config["architectures"] == json::array({"ElectraModel"}));
  CHECK(config["model_type"] == "electra");
  CHECK(fs::exists(dir / "m" / "model.safetensors"));
  CHECK(json::parse(electra::read_file(dir / "m" / "tokenizer_config.json"))["do_lower_case"] == false);
  CHECK(electra::read_file(dir / "m" / "vocab.txt") == electra::read_file(vocab));

  SECTION("the other commands load it") {
    const auto inspect = run_electra(fmt::format("inspect --model '{}'", (dir / "m").string()));
    INFO(inspect.output);
    CHECK(inspect.status == 0);
    CHECK(contains(inspect.out, "2 layers"));
  }
  SECTION("the same seed gives the same weights; another seed other weights") {
    REQUIRE(run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}' --cased --seed 7", vocab.string(),
                                    (dir / "same").string()))
                .status == 0);
    REQUIRE(run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}' --cased --seed 8", vocab.string(),
                                    (dir / "other").string()))
                .status == 0);
    const std::string weights = electra::read_file(dir / "m" / "model.safetensors");
    CHECK(electra::read_file(dir / "same" / "model.safetensors") == weights);
    CHECK(electra::read_file(dir / "other" / "model.safetensors") != weights);
  }
  SECTION("--overwrite replaces a model and its vocabulary, and removes the old model's other weight files") {
    const fs::path m = dir / "m";
    const std::string before = electra::read_file(m / "model.safetensors");
    electra::write_file_atomic(m / "pytorch_model.bin", "an older model's weights");
    electra::write_file_atomic(m / "tokenizer.json", "{}");
    electra::write_file_atomic(m / "README.md", "notes");
    electra::write_file_atomic(dir / "v2" / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n");
    const auto r = run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}' --seed 9 --overwrite",
                                           (dir / "v2").string(), m.string()));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "--overwrite: removed " + (m / "pytorch_model.bin").string()));
    CHECK(electra::read_file(m / "model.safetensors") != before);
    CHECK(electra::read_file(m / "vocab.txt") == "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n");
    CHECK(contains(electra::read_file(m / "config.json"), "\"vocab_size\": 7"));
    CHECK_FALSE(fs::exists(m / "pytorch_model.bin"));
    CHECK_FALSE(fs::exists(m / "tokenizer.json"));
    CHECK(electra::read_file(m / "README.md") == "notes");
  }
  SECTION("refuses to overwrite a model, unknown sizes and a missing vocabulary") {
    const auto again = run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}'", vocab.string(),
                                               (dir / "m").string()));
    CHECK(again.status != 0);
    CHECK(contains(again.err, "already holds a model"));
    CHECK(contains(again.err, "--overwrite to replace it"));
    // A folder of another vocabulary keeps it; the folder of the same vocabulary may receive the model.
    electra::write_file_atomic(dir / "v" / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n");
    const auto other_vocab = run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}'", vocab.string(),
                                                     (dir / "v").string()));
    CHECK(other_vocab.status != 0);
    CHECK(contains(other_vocab.err, "already holds another vocabulary"));
    CHECK(electra::read_file(dir / "v" / "vocab.txt") == "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n");
    CHECK_FALSE(fs::exists(dir / "v" / "config.json"));
    electra::write_file_atomic(dir / "w" / "vocab.txt", electra::read_file(vocab));
    CHECK(run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}'", (dir / "w").string(),
                                  (dir / "w").string()))
              .status == 0);
    CHECK(fs::exists(dir / "w" / "config.json"));
    const auto size = run_electra(fmt::format("init --config huge --vocab '{}' --output '{}'", vocab.string(),
                                              (dir / "x").string()));
    CHECK(size.status != 0);
    CHECK(contains(size.err, "unknown model size 'huge' (known: tiny, small, base"));
    const auto missing = run_electra(fmt::format("init --config tiny --vocab '{}' --output '{}'",
                                                 (dir / "nothing.txt").string(), (dir / "y").string()));
    CHECK(missing.status != 0);
    CHECK(contains(missing.err, "nothing.txt"));
  }
  SECTION("a config.json that no memory holds is refused before anything is written or allocated") {
    // At every per-key limit (docs/limits.md), but 256 layers of width 16384 are ~8e11 parameters (3.3 TB).
    const nlohmann::json huge = {{"model_type", "electra"},     {"embedding_size", 16384},
                                 {"hidden_size", 16384},        {"num_attention_heads", 1},
                                 {"num_hidden_layers", 256},    {"intermediate_size", 65536}};
    electra::write_file_atomic(dir / "huge.json", huge.dump());
    const auto r = run_electra(fmt::format("init --config '{}' --vocab '{}' --output '{}'",
                                           (dir / "huge.json").string(), vocab.string(), (dir / "h").string()));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "huge.json: the model it describes has 8.25e+11 parameters ("));
    CHECK(contains(r.err, "this process may still use ("));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(dir / "h"));
  }
}

TEST_CASE("electra init caps model_max_length at the model's positions", "[init]") {
  // The vocabulary's tokenizer_config.json says 512, the model has 64 positions: Hugging Face's
  // AutoTokenizer(..., truncation=True) must not make longer sequences than the model takes.
  const fs::path dir = electra::test::fresh_dir("init_max_length");
  fs::create_directories(dir / "vocab");
  fs::copy_file(fs::path(electra::test::fixtures_dir()) / "tokenizer" / "vocab.txt", dir / "vocab" / "vocab.txt");
  electra::write_file_atomic(dir / "vocab" / "tokenizer_config.json", R"({"do_lower_case": false, "model_max_length": 512})");
  const json small = {{"model_type", "electra"}, {"embedding_size", 16}, {"hidden_size", 32},
                      {"num_attention_heads", 2}, {"num_hidden_layers", 1}, {"intermediate_size", 64},
                      {"max_position_embeddings", 64}};
  electra::write_file_atomic(dir / "config.json", small.dump());
  const auto r = run_electra(fmt::format("init --config '{}' --vocab '{}' --output '{}'", (dir / "config.json").string(),
                                         (dir / "vocab").string(), (dir / "m").string()));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const json written = json::parse(electra::read_file(dir / "m" / "tokenizer_config.json"));
  CHECK(written["model_max_length"] == 64);
  CHECK(written["do_lower_case"] == false);
  // electra's own tokenizer reads the limit too: a long text is cut to the model's 64 positions
  std::string text;
  for (int i = 0; i < 100; ++i) text += "cannot open file ";
  electra::write_file_atomic(dir / "long.jsonl", json{{"text", text}}.dump() + "\n");
  const auto tokens = run_electra(fmt::format("tokenize --model '{}' --input '{}'", (dir / "m").string(),
                                              (dir / "long.jsonl").string()));
  INFO(tokens.output);
  REQUIRE(tokens.status == 0);
  CHECK(json::parse(tokens.out)["input_ids"].size() == 64);
}

TEST_CASE("electra init writes a BertModel from a BERT config.json", "[init]") {
  const fs::path dir = electra::test::fresh_dir("init_bert");
  const fs::path vocab = fs::path(electra::test::fixtures_dir()) / "models" / "bert" / "base" / "vocab.txt";
  electra::write_file_atomic(dir / "bert.json", R"({"model_type": "bert", "hidden_size": 16, "num_hidden_layers": 2,
    "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32})");
  const auto r = run_electra(fmt::format("init --config '{}' --vocab '{}' --output '{}' --uncased",
                                         (dir / "bert.json").string(), vocab.string(), (dir / "m").string()));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "BertModel E=16 H=16 L=2 A=2 I=32"));
  const json config = json::parse(electra::read_file(dir / "m" / "config.json"));
  CHECK(config["model_type"] == "bert");
  CHECK(config["architectures"] == json::array({"BertModel"}));
  CHECK_FALSE(config.contains("embedding_size"));
  CHECK(json::parse(electra::read_file(dir / "m" / "tokenizer_config.json"))["tokenizer_class"] == "BertTokenizer");
  const auto inspect = run_electra(fmt::format("inspect --model '{}'", (dir / "m").string()));
  INFO(inspect.output);
  CHECK(contains(inspect.out, "family:       bert (model_type)"));
  CHECK(contains(inspect.out, ", pooler"));
}
