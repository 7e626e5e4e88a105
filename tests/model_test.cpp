// ElectraConfig, the encoder and heads, and checkpoint loading/saving against Hugging Face reference outputs, for
// every model family (ELECTRA: tests/fixtures/models/*, BERT: tests/fixtures/models/bert/*).
#include <ATen/ATen.h>
#include <torch/types.h>  // torch::tensor of nested braces

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "architectures/checkpoints.h"
#include "architectures/electra_model.h"
#include "architectures/predictor.h"
#include "common/blas.h"
#include "common/files.h"
#include "heads/sequence_classification.h"
#include "heads/span_extraction.h"
#include "heads/token_classification.h"
#include "model/encoder.h"
#include "model/tensor_io.h"
#include "tests/catch.h"
#include "tests/model_support.h"
#include "tests/support.h"
#include "tokenizer/tokenizer.h"
#include "train/optimizer.h"
#include "train/options.h"
#include "train/step.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kModels = fs::path(electra::test::fixtures_dir()) / "models";
const char* kModelNames[] = {"base", "seqcls3", "regression", "tokcls", "qa", "shared_width"};

const json& model_cases() {
  static const json cases = json::parse(electra::read_file(kModels / "model_cases.json"));
  return cases;
}

at::Tensor to_tensor(const json& nested, at::ScalarType dtype) {
  std::vector<int64_t> shape;
  for (const json* j = &nested; j->is_array(); j = &(*j)[0]) shape.push_back(static_cast<int64_t>(j->size()));
  std::vector<double> flat;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_array())
      for (const auto& x : j) walk(x);
    else
      flat.push_back(j.get<double>());
  };
  walk(nested);
  return torch::tensor(flat, at::kDouble).reshape(shape).to(dtype);
}

struct Inputs {
  at::Tensor ids, mask, types;
};
Inputs case_inputs() {
  const auto& in = model_cases()["inputs"];
  return {to_tensor(in["input_ids"], at::kLong), to_tensor(in["attention_mask"], at::kLong),
          to_tensor(in["token_type_ids"], at::kLong)};
}

// max |ours - reference| <= 1e-4 * max |reference|
void check_close(const at::Tensor& ours, const json& reference, const std::string& what) {
  const auto ref = to_tensor(reference, at::kFloat);
  REQUIRE(ours.sizes() == ref.sizes());
  const double diff = (ours.detach().to(at::kFloat) - ref).abs().max().item<double>();
  const double scale = ref.abs().max().item<double>();
  INFO(what << ": max diff " << diff << ", max |HF| " << scale);
  CHECK(diff <= 1e-4 * scale);
}

void check_loss(const at::Tensor& ours, double reference, const std::string& what) {
  INFO(what << ": loss " << ours.item<double>() << " vs HF " << reference);
  CHECK(std::abs(ours.item<double>() - reference) <= 1e-4 * std::abs(reference));
}

// A fresh empty directory under the system temp dir, removed with the object.
struct TempDir : electra::test::TempDir {
  TempDir() : electra::test::TempDir("model") {}
};

// Copies a fixture model's config.json and one weights file into `dir`.
void copy_model(const std::string& name, const fs::path& dir, const std::string& weights) {
  fs::copy_file(kModels / name / "config.json", dir / "config.json");
  fs::copy_file(kModels / name / weights, dir / weights);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

json read_json(const fs::path& file) { return json::parse(electra::read_file(file)); }
void write_json(const fs::path& file, const json& j) { electra::write_file_atomic(file, j.dump(2)); }

// Compares one fixture model's outputs and loss on the cases' inputs with Hugging Face's.
void check_against_hf(const electra::ElectraModel& model, const std::string& name, const std::string& source) {
  const auto& ref = model_cases()["models"][name];
  const auto in = case_inputs();
  at::NoGradGuard no_grad;
  const auto out = model.forward(in.ids, in.mask, in.types);
  const std::string what = name + " from " + source;
  electra::ModelTargets targets;
  if (name == "base") {
    check_close(out.last_hidden_state, ref["last_hidden_state"], what);
    return;
  }
  if (name == "qa") {
    check_close(out.start_logits, ref["start_logits"], what + " start_logits");
    check_close(out.end_logits, ref["end_logits"], what + " end_logits");
    targets.start_positions = to_tensor(ref["start_positions"], at::kLong);
    targets.end_positions = to_tensor(ref["end_positions"], at::kLong);
  } else {
    check_close(out.logits, ref["logits"], what + " logits");
    targets.labels = to_tensor(ref["labels"], name == "regression" ? at::kFloat : at::kLong);
  }
  check_loss(model.loss(out, targets), ref["loss"].get<double>(), what);
}

// The shared tiny shape, narrower still (E=8, H=16, I=32) and 20 positions.
electra::ElectraConfig tiny_config(electra::Architecture arch, int64_t labels = 3) {
  auto c = electra::test::tiny_config(50, arch, arch == electra::Architecture::question_answering ? 2 : labels);
  c.embedding_size = 8;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.max_position_embeddings = 20;
  return c;
}

}  // namespace

TEST_CASE("ElectraConfig reads the fixture configs", "[model]") {
  using electra::Architecture;
  const auto seqcls = electra::ElectraConfig::from_file(kModels / "seqcls3" / "config.json");
  CHECK(seqcls.architecture == Architecture::sequence_classification);
  CHECK(seqcls.id2label == std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"});
  CHECK_FALSE(seqcls.is_regression());
  CHECK(seqcls.vocab_size == 8000);
  CHECK(seqcls.embedding_size == 32);
  CHECK(seqcls.hidden_size == 64);
  CHECK(seqcls.max_position_embeddings == 64);
  CHECK(seqcls.layer_norm_eps == Approx(1e-12));
  CHECK_FALSE(seqcls.classifier_dropout.has_value());

  SECTION("one label without problem_type is regression") {
    const auto c = electra::ElectraConfig::from_file(kModels / "regression" / "config.json");
    CHECK(c.is_regression());
  }
  SECTION("no id2label means Hugging Face's two default labels") {
    const auto c = electra::ElectraConfig::from_file(kModels / "shared_width" / "config.json");
    CHECK(c.id2label == std::vector<std::string>{"LABEL_0", "LABEL_1"});
    CHECK(c.embedding_size == c.hidden_size);
  }
  SECTION("architectures name the head") {
    CHECK(electra::ElectraConfig::from_file(kModels / "base" / "config.json").architecture == Architecture::model);
    CHECK(electra::ElectraConfig::from_file(kModels / "tokcls" / "config.json").architecture ==
          Architecture::token_classification);
    CHECK(electra::ElectraConfig::from_file(kModels / "qa" / "config.json").architecture ==
          Architecture::question_answering);
  }
}

TEST_CASE("ElectraConfig refuses unsupported or malformed configs", "[model]") {
  json base = read_json(kModels / "seqcls3" / "config.json");
  auto parse = [](const json& j) { return electra::ElectraConfig::from_json_text(j.dump(), "config.json"); };
  auto with = [&](const std::string& key, const json& value) {
    json j = base;
    j[key] = value;
    return j;
  };
  CHECK_NOTHROW(parse(base));
  CHECK_THROWS_AS(parse(with("model_type", "bert")), std::runtime_error);
  CHECK_THROWS_AS(parse(with("hidden_act", "swish")), std::runtime_error);
  CHECK_THROWS_AS(parse(with("num_attention_heads", 5)), std::runtime_error);
  CHECK_THROWS_AS(parse(with("hidden_size", "64")), std::runtime_error);
  CHECK_THROWS_AS(parse(with("architectures", json::array({"ElectraForMultipleChoice"}))), std::runtime_error);
  CHECK_THROWS_AS(parse(with("id2label", json{{"0", "a"}, {"2", "b"}})), std::runtime_error);
  CHECK_THROWS_AS(parse(with("id2label", json{{"0", "a"}, {"1", "a"}})), std::runtime_error);
  CHECK_THROWS_AS(parse(with("problem_type", "multi_label_classification")), std::runtime_error);
  CHECK_THROWS_AS(parse(with("position_embedding_type", "relative_key")), std::runtime_error);
  CHECK_THROWS_AS(parse(with("hidden_dropout_prob", 1.5)), std::runtime_error);
  CHECK_THROWS_AS(electra::ElectraConfig::from_json_text("{\"model_type\": ", "config.json"), std::runtime_error);
  json no_type = base;
  no_type.erase("model_type");
  CHECK_THROWS_AS(parse(no_type), std::runtime_error);
  try {
    parse(with("hidden_act", "swish"));
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    CHECK(message.find("config.json") != std::string::npos);
    CHECK(message.find("hidden_act") != std::string::npos);
    CHECK(message.find("swish") != std::string::npos);
  }
}

TEST_CASE("ElectraConfig writes Hugging Face's layout and keeps unknown keys", "[model]") {
  auto config = electra::ElectraConfig::from_file(kModels / "seqcls3" / "config.json");
  config.id2label = {"negative", "neutral", "positive"};
  const json written = json::parse(config.to_json_text());
  CHECK(written["architectures"] == json::array({"ElectraForSequenceClassification"}));
  CHECK(written["id2label"] == json{{"0", "negative"}, {"1", "neutral"}, {"2", "positive"}});
  CHECK(written["label2id"] == json{{"negative", 0}, {"neutral", 1}, {"positive", 2}});
  CHECK(written["problem_type"] == "single_label_classification");
  CHECK(written["model_type"] == "electra");
  CHECK(written["summary_type"] == "first");  // unknown to us, kept
  CHECK(written["classifier_dropout"].is_null());
  CHECK(written["layer_norm_eps"].get<double>() == 1e-12);
  const auto again = electra::ElectraConfig::from_json_text(written.dump(), "written");
  CHECK(again.id2label == config.id2label);
  CHECK(again.hidden_size == config.hidden_size);
  CHECK(again.intermediate_size == config.intermediate_size);

  SECTION("regression writes its problem_type") {
    auto reg = electra::ElectraConfig::from_file(kModels / "regression" / "config.json");
    CHECK(json::parse(reg.to_json_text())["problem_type"] == "regression");
  }
}

TEST_CASE("ElectraModel names its parameters as Hugging Face does", "[model]") {
  using electra::Architecture;
  auto names = [](const electra::ElectraModel& m) {
    std::set<std::string> out;
    for (const auto& [name, tensor] : m.named_parameters()) out.insert(name);
    return out;
  };
  const electra::ElectraModel bare(tiny_config(Architecture::model));
  const auto bare_names = names(bare);
  CHECK(bare_names.count("embeddings.word_embeddings.weight"));
  CHECK(bare_names.count("embeddings.LayerNorm.weight"));
  CHECK(bare_names.count("embeddings_project.weight"));
  CHECK(bare_names.count("encoder.layer.1.attention.self.query.weight"));
  CHECK(bare_names.count("encoder.layer.0.attention.output.LayerNorm.bias"));
  CHECK(bare_names.count("encoder.layer.1.intermediate.dense.weight"));
  CHECK(bare_names.count("encoder.layer.1.output.dense.bias"));
  CHECK(bare_names.size() == 5 + 2 + 2 * 16);

  const auto seq = names(electra::ElectraModel(tiny_config(Architecture::sequence_classification)));
  CHECK(seq.count("electra.embeddings.word_embeddings.weight"));
  CHECK(seq.count("classifier.dense.weight"));
  CHECK(seq.count("classifier.out_proj.bias"));
  const auto tok = names(electra::ElectraModel(tiny_config(Architecture::token_classification)));
  CHECK(tok.count("classifier.weight"));
  CHECK(tok.count("classifier.bias"));
  const auto qa = names(electra::ElectraModel(tiny_config(Architecture::question_answering)));
  CHECK(qa.count("qa_outputs.weight"));

  auto shared = tiny_config(Architecture::model);
  shared.embedding_size = shared.hidden_size;
  CHECK_FALSE(names(electra::ElectraModel(shared)).count("embeddings_project.weight"));
  CHECK_THROWS_AS(electra::ElectraModel(tiny_config(Architecture::pretraining)), std::invalid_argument);
  auto bad = tiny_config(Architecture::model);
  bad.hidden_act = "tanh";
  CHECK_THROWS_AS(electra::ElectraModel(bad), std::invalid_argument);
}

TEST_CASE("ElectraConfig::parameter_count is the built model's count for every head", "[model]") {
  using electra::Architecture;
  for (const auto arch : {Architecture::model, Architecture::sequence_classification,
                          Architecture::token_classification, Architecture::question_answering}) {
    for (const bool shared_width : {false, true}) {
      auto config = tiny_config(arch);
      if (shared_width) config.embedding_size = config.hidden_size;
      if (arch == Architecture::sequence_classification || arch == Architecture::token_classification)
        config.id2label = electra::default_labels(5);
      const electra::ElectraModel model(config);
      int64_t built = 0;
      for (const auto& [name, tensor] : model.named_parameters()) built += tensor.numel();
      INFO(electra::to_hf_class(arch, "electra") << (shared_width ? " E=H" : " E<H"));
      CHECK(config.parameter_count() == static_cast<double>(built));
    }
  }
}

TEST_CASE("ElectraModel initialises weights as Hugging Face does", "[model]") {
  at::manual_seed(3);
  auto config = tiny_config(electra::Architecture::sequence_classification);
  config.vocab_size = 2000;
  config.hidden_size = 64;
  config.initializer_range = 0.05;
  const electra::ElectraModel model(config);
  for (const auto& [name, t] : model.named_parameters()) {
    INFO(name);
    if (name.find("LayerNorm.weight") != std::string::npos) {
      CHECK(t.eq(1).all().item<bool>());
    } else if (name.find("bias") != std::string::npos || name.find("LayerNorm") != std::string::npos) {
      CHECK(t.eq(0).all().item<bool>());
    } else if (name == "electra.embeddings.word_embeddings.weight") {
      CHECK(t[config.pad_token_id].eq(0).all().item<bool>());  // padding row zeroed
      CHECK(t.slice(0, 1).std().item<double>() == Approx(0.05).epsilon(0.05));
    } else if (t.numel() >= 2000) {
      CHECK(t.std().item<double>() == Approx(0.05).epsilon(0.1));
    }
  }
}

TEST_CASE("ElectraModel parameter_depth orders embeddings, layers and head", "[model]") {
  const electra::ElectraModel model(tiny_config(electra::Architecture::token_classification));
  CHECK(model.parameter_depth("electra.embeddings.word_embeddings.weight") == 0);
  CHECK(model.parameter_depth("electra.embeddings_project.bias") == 0);
  CHECK(model.parameter_depth("electra.encoder.layer.0.attention.self.key.weight") == 1);
  CHECK(model.parameter_depth("electra.encoder.layer.1.output.LayerNorm.weight") == 2);
  CHECK(model.parameter_depth("classifier.weight") == 3);
  CHECK_THROWS_AS(model.parameter_depth("electra.encoder.layer.2.output.dense.weight"), std::invalid_argument);
  CHECK_THROWS_AS(model.parameter_depth("qa_outputs.weight"), std::invalid_argument);
  for (const auto& [name, tensor] : model.named_parameters()) CHECK_NOTHROW(model.parameter_depth(name));
  const electra::ElectraModel bare(tiny_config(electra::Architecture::model));
  CHECK(bare.parameter_depth("encoder.layer.1.intermediate.dense.weight") == 2);
  CHECK(bare.parameter_depth("embeddings.LayerNorm.bias") == 0);
}

TEST_CASE("activations and the attention mask follow Hugging Face", "[model]") {
  const auto x = at::linspace(-6, 6, 101, at::kDouble);
  const auto erf_gelu = x * 0.5 * (1 + at::erf(x / std::sqrt(2.0)));
  CHECK(at::allclose(electra::apply_activation(x, "gelu"), erf_gelu, 0, 1e-12));
  const auto tanh_gelu = 0.5 * x * (1 + at::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  CHECK(at::allclose(electra::apply_activation(x, "gelu_new"), tanh_gelu, 0, 1e-12));
  CHECK(at::allclose(electra::apply_activation(x, "gelu_pytorch_tanh"), tanh_gelu, 0, 1e-9));
  CHECK(at::equal(electra::apply_activation(x, "relu"), at::relu(x)));
  CHECK(!at::allclose(erf_gelu, tanh_gelu, 0, 1e-6));  // the two gelus really differ
  CHECK_THROWS_AS(electra::apply_activation(x, "swish"), std::invalid_argument);

  CHECK(electra::lowest_value(at::kFloat) == static_cast<double>(std::numeric_limits<float>::lowest()));
  CHECK(electra::lowest_value(at::kHalf) == -65504.0);
  CHECK(electra::lowest_value(at::kBFloat16) == Approx(-3.3895313892515355e38));
  const auto mask = electra::additive_attention_mask(torch::tensor({{1, 1, 0}}), at::kFloat);
  CHECK(mask.sizes() == std::vector<int64_t>{1, 1, 1, 3});
  CHECK(mask[0][0][0][0].item<float>() == 0.f);
  CHECK(mask[0][0][0][2].item<float>() == std::numeric_limits<float>::lowest());
}

TEST_CASE("head losses match their definitions", "[model]") {
  const auto logits = torch::tensor({{2.0, 0.5, -1.0}, {0.1, 0.2, 0.3}});
  auto nll = [](const at::Tensor& row, int64_t label) {
    return -at::log_softmax(row, 0)[label].item<double>();
  };
  SECTION("cross-entropy over the batch") {
    const double expected = (nll(logits[0], 0) + nll(logits[1], 2)) / 2;
    CHECK(electra::sequence_classification_loss(logits, torch::tensor({0, 2})).item<double>() ==
          Approx(expected).epsilon(1e-6));
    CHECK_THROWS_AS(electra::sequence_classification_loss(logits, torch::tensor({0})), std::invalid_argument);
  }
  SECTION("regression is the mean squared error") {
    CHECK(electra::regression_loss(torch::tensor({{1.0f}, {3.0f}}), torch::tensor({2.0, 1.0})).item<double>() ==
          Approx(2.5));
  }
  SECTION("token classification ignores -100") {
    const auto tokens = logits.unsqueeze(0);  // [1, 2, 3]
    CHECK(electra::token_classification_loss(tokens, torch::tensor({{-100, 1}})).item<double>() ==
          Approx(nll(logits[1], 1)).epsilon(1e-6));
  }
  SECTION("span extraction averages start and end, ignoring positions past the end") {
    const auto start = torch::tensor({{1.0, 2.0, 3.0}, {0.0, 0.0, 1.0}});
    const auto end = torch::tensor({{3.0, 2.0, 1.0}, {1.0, 0.0, 0.0}});
    const double expected = (nll(start[0], 1) + nll(end[0], 2)) / 2;  // batch 1's positions (9 -> 3) are ignored
    CHECK(electra::span_extraction_loss(start, end, torch::tensor({1, 9}), torch::tensor({2, 9})).item<double>() ==
          Approx(expected).epsilon(1e-6));
  }
}

TEST_CASE("fixture models from model.safetensors match Hugging Face outputs and losses", "[model]") {
  for (const std::string name : kModelNames) {
    INFO("model " << name);
    electra::LoadReport report;
    const auto model = electra::load_pretrained(kModels / name, {}, &report);
    CHECK(report.weights_file.filename() == "model.safetensors");
    CHECK(report.weights_dtype == "F32");
    CHECK(report.newly_initialised.empty());
    CHECK(report.ignored.empty());
    check_against_hf(model, name, "model.safetensors");
  }
}

TEST_CASE("fixture models from pytorch_model.bin match Hugging Face outputs and losses", "[model]") {
  for (const std::string name : kModelNames) {
    INFO("model " << name);
    TempDir bin_only;
    copy_model(name, bin_only.path, "pytorch_model.bin");
    electra::LoadReport report;
    const auto model = electra::load_pretrained(bin_only.path, {}, &report);
    CHECK(report.weights_file.filename() == "pytorch_model.bin");
    CHECK(report.weights_dtype == "F32");
    check_against_hf(model, name, "pytorch_model.bin");
  }
}

TEST_CASE("fixture outputs do not depend on batch padding", "[model]") {
  const auto model = electra::load_pretrained(kModels / "tokcls");
  const auto in = case_inputs();
  at::NoGradGuard no_grad;
  const auto batch = model.forward(in.ids, in.mask, in.types).logits;
  const int64_t n = in.mask[2].sum().item<int64_t>();
  const auto alone = model.forward(in.ids.slice(0, 2, 3).slice(1, 0, n), {}, in.types.slice(0, 2, 3).slice(1, 0, n));
  CHECK(at::allclose(alone.logits[0], batch[2].slice(0, 0, n), 1e-5, 1e-5));
}

TEST_CASE("save_pretrained round trip reproduces outputs exactly", "[model]") {
  for (const std::string name : {"seqcls3", "qa", "base"}) {
    INFO("model " << name);
    TempDir out;
    const auto model = electra::load_pretrained(kModels / name);
    electra::save_pretrained(model, out.path / "saved", kModels / name);
    for (const char* file : {"config.json", "model.safetensors", "vocab.txt"}) CHECK(fs::exists(out.path / "saved" / file));
    CHECK(electra::read_file(out.path / "saved" / "vocab.txt") == electra::read_file(kModels / name / "vocab.txt"));

    const json config = read_json(out.path / "saved" / "config.json");
    CHECK(config["architectures"][0] == model.config().hf_class());
    CHECK(config["id2label"].is_object());
    CHECK(config["label2id"].is_object());
    CHECK(config["transformers_version"] == "5.17.0");  // kept from the original

    const auto tensors = electra::read_safetensors(out.path / "saved" / "model.safetensors");
    const auto state = model.state_dict();
    REQUIRE(tensors.size() == state.size());
    for (const auto& [key, tensor] : state) {
      INFO(key);
      REQUIRE(tensors.count(key));
      CHECK(at::equal(tensors.at(key), tensor));
    }
    CHECK(tensors.count(name == "base" ? "embeddings.word_embeddings.weight" : "electra.embeddings.word_embeddings.weight"));

    const auto reloaded = electra::load_pretrained(out.path / "saved");
    const auto in = case_inputs();
    at::NoGradGuard no_grad;
    const auto a = model.forward(in.ids, in.mask, in.types), b = reloaded.forward(in.ids, in.mask, in.types);
    CHECK(at::equal(a.last_hidden_state, b.last_hidden_state));
    if (a.logits.defined()) CHECK(at::equal(a.logits, b.logits));
    if (a.start_logits.defined()) CHECK(at::equal(a.start_logits, b.start_logits));
  }
}

TEST_CASE("save_pretrained caps the tokenizer's length limits at the model's positions", "[model]") {
  // A tokenizer_config.json saying 512 beside a 64-position model made AutoTokenizer(..., truncation=True) give
  // sequences the model cannot take (tests/hf/model_parity.py found it).
  TempDir out;
  const auto model = electra::load_pretrained(kModels / "seqcls3");  // 64 positions
  REQUIRE(model.config().max_position_embeddings == 64);
  const fs::path tok = out.path / "tok";
  fs::create_directories(tok);
  fs::copy_file(kModels / "seqcls3" / "vocab.txt", tok / "vocab.txt");
  electra::write_file_atomic(tok / "tokenizer_config.json",
                             R"({"tokenizer_class": "BertTokenizer", "model_max_length": 512, "do_lower_case": false})");
  electra::write_file_atomic(tok / "tokenizer.json",
                             R"({"version": "1.0", "truncation": {"direction": "Right", "max_length": 512}, "padding": null})");
  electra::save_pretrained(model, out.path / "a", tok);
  const json config = read_json(out.path / "a" / "tokenizer_config.json");
  CHECK(config["model_max_length"] == 64);
  CHECK(config["do_lower_case"] == false);
  CHECK(config.begin().key() == "do_lower_case");  // json sorts keys; the file keeps its order
  CHECK(electra::read_file(out.path / "a" / "tokenizer_config.json").find("\"tokenizer_class\"") <
        electra::read_file(out.path / "a" / "tokenizer_config.json").find("\"model_max_length\""));
  CHECK(read_json(out.path / "a" / "tokenizer.json")["truncation"]["max_length"] == 64);
  CHECK(read_json(out.path / "a" / "tokenizer.json")["truncation"]["direction"] == "Right");

  // Within the bound: copied byte for byte; no limit at all (transformers' 1e30, or no file): the positions.
  const std::string within = R"({"model_max_length": 32})";
  electra::write_file_atomic(tok / "tokenizer_config.json", within);
  electra::save_pretrained(model, out.path / "b", tok);
  CHECK(electra::read_file(out.path / "b" / "tokenizer_config.json") == within);
  electra::write_file_atomic(tok / "tokenizer_config.json", R"({"model_max_length": 1000000000000000019884624838656})");
  electra::save_pretrained(model, out.path / "c", tok);
  CHECK(read_json(out.path / "c" / "tokenizer_config.json")["model_max_length"] == 64);
  fs::remove(tok / "tokenizer_config.json");
  electra::save_pretrained(model, out.path / "d", tok);
  CHECK(read_json(out.path / "d" / "tokenizer_config.json") == json{{"model_max_length", 64}});
}

TEST_CASE("load_pretrained builds a new head on a pre-trained encoder", "[model]") {
  using electra::Architecture;
  const auto in = case_inputs();
  at::NoGradGuard no_grad;

  SECTION("classification head on the bare encoder") {
    electra::LoadOptions options;
    options.architecture = Architecture::sequence_classification;
    options.id2label = {"neg", "pos"};
    electra::LoadReport report;
    const auto model = electra::load_pretrained(kModels / "base", options, &report);
    CHECK(model.config().id2label == options.id2label);
    CHECK(std::set<std::string>(report.newly_initialised.begin(), report.newly_initialised.end()) ==
          std::set<std::string>{"classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight",
                                "classifier.out_proj.bias"});
    const auto out = model.forward(in.ids, in.mask, in.types);
    CHECK(out.logits.sizes() == std::vector<int64_t>{4, 2});
    check_close(out.last_hidden_state, model_cases()["models"]["base"]["last_hidden_state"], "encoder under new head");
  }
  SECTION("other labels replace a fine-tuned head") {
    electra::LoadOptions options;
    options.id2label = {"a", "b", "c", "d"};
    electra::LoadReport report;
    const auto model = electra::load_pretrained(kModels / "tokcls", options, &report);
    CHECK(model.config().architecture == Architecture::token_classification);
    CHECK(report.newly_initialised.size() == 2);
    CHECK(report.ignored == std::vector<std::string>{"classifier.bias", "classifier.weight"});
  }
  SECTION("regression head from problem_type") {
    electra::LoadOptions options;
    options.architecture = Architecture::sequence_classification;
    options.problem_type = "regression";
    const auto model = electra::load_pretrained(kModels / "seqcls3", options);
    CHECK(model.config().is_regression());
    CHECK(model.config().num_labels() == 1);
  }
  SECTION("the checkpoint's own head is kept when nothing changes") {
    electra::LoadOptions options;
    options.architecture = Architecture::sequence_classification;
    options.id2label = {"LABEL_0", "LABEL_1", "LABEL_2"};
    electra::LoadReport report;
    const auto model = electra::load_pretrained(kModels / "seqcls3", options, &report);
    CHECK(report.newly_initialised.empty());
    check_close(model.forward(in.ids, in.mask, in.types).logits, model_cases()["models"]["seqcls3"]["logits"], "kept");
  }
}

TEST_CASE("load_pretrained reads pre-training and older checkpoint layouts", "[model]") {
  TempDir dir;
  const auto base = electra::read_safetensors(kModels / "base" / "model.safetensors");
  json config = read_json(kModels / "base" / "config.json");
  config["architectures"] = json::array({"ElectraForPreTraining"});
  write_json(dir.path / "config.json", config);
  electra::TensorMap tensors;
  for (const auto& [key, tensor] : base) {
    std::string name = "electra." + key;
    if (ends_with(name, "LayerNorm.weight")) name = name.substr(0, name.size() - 6) + "gamma";
    if (ends_with(name, "LayerNorm.bias")) name = name.substr(0, name.size() - 4) + "beta";
    tensors[name] = tensor;
  }
  tensors["electra.embeddings.position_ids"] = at::arange(64).unsqueeze(0);
  tensors["discriminator_predictions.dense.weight"] = at::zeros({64, 64});
  tensors["discriminator_predictions.dense_prediction.bias"] = at::zeros({1});
  electra::write_safetensors(dir.path / "model.safetensors", tensors);

  electra::LoadReport report;
  const auto model = electra::load_pretrained(dir.path, {}, &report);
  CHECK(report.checkpoint_architecture == electra::Architecture::pretraining);
  CHECK(model.config().architecture == electra::Architecture::model);
  CHECK(std::set<std::string>(report.ignored.begin(), report.ignored.end()) ==
        std::set<std::string>{"electra.embeddings.position_ids", "discriminator_predictions.dense.weight",
                              "discriminator_predictions.dense_prediction.bias"});
  check_against_hf(model, "base", "a gamma/beta pre-training checkpoint");

  SECTION("half-precision weights are converted and reported") {
    electra::TensorMap half;
    for (const auto& [key, tensor] : base) half[key] = tensor.to(at::kHalf);
    electra::write_safetensors(dir.path / "model.safetensors", half);
    const auto loaded = electra::load_pretrained(dir.path, {}, &report);
    CHECK(report.weights_dtype == "F16");
    const auto in = case_inputs();
    at::NoGradGuard no_grad;
    const auto hidden = loaded.forward(in.ids, in.mask, in.types).last_hidden_state;
    CHECK(hidden.scalar_type() == at::kFloat);
    const auto ref = to_tensor(model_cases()["models"]["base"]["last_hidden_state"], at::kFloat);
    CHECK((hidden - ref).abs().max().item<double>() < 0.05 * ref.abs().max().item<double>());
  }
}

TEST_CASE("load_pretrained refuses bad checkpoints with a clear error", "[model]") {
  TempDir dir;
  auto message_of = [&](const electra::LoadOptions& options = {}) -> std::string {
    try {
      electra::load_pretrained(dir.path, options);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(no error)";
  };
  auto contains = [](const std::string& message, const std::string& part) {
    INFO(message);
    CHECK(message.find(part) != std::string::npos);
  };

  SECTION("missing directory and missing config.json") {
    CHECK_THROWS_AS(electra::load_pretrained(dir.path / "nope"), std::runtime_error);
    fs::copy_file(kModels / "seqcls3" / "model.safetensors", dir.path / "model.safetensors");
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "config.json");
  }
  SECTION("no weights file") {
    fs::copy_file(kModels / "seqcls3" / "config.json", dir.path / "config.json");
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
  }
  SECTION("shape mismatch names file, key and both shapes") {
    copy_model("seqcls3", dir.path, "model.safetensors");
    json config = read_json(dir.path / "config.json");
    config["intermediate_size"] = 96;
    write_json(dir.path / "config.json", config);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    const auto message = message_of();
    contains(message, "model.safetensors");
    contains(message, "electra.encoder.layer.0.intermediate.dense.weight");
    contains(message, "[96, 64]");
    contains(message, "[128, 64]");
    contains(message, "key 'intermediate_size'");
  }
  SECTION("config.json sizes the weights file does not have are refused by key before anything is allocated") {
    // The weights file is the 32-wide base model; each config below would need gigabytes if it were built first.
    copy_model("base", dir.path, "model.safetensors");
    const json original = read_json(dir.path / "config.json");
    const std::pair<const char*, int64_t> cases[] = {
        {"vocab_size", 4000000}, {"max_position_embeddings", 1000000}, {"hidden_size", 16384},
        {"intermediate_size", 65536}, {"num_hidden_layers", 256}, {"embedding_size", 16384}};  // at their limits
    for (const auto& [key, value] : cases) {
      json config = original;
      config[key] = value;
      if (std::string(key) == "hidden_size") config["num_attention_heads"] = 1;
      write_json(dir.path / "config.json", config);
      const auto message = message_of();
      contains(message, "key '" + std::string(key) + "'");
      contains(message, "do not belong together");
    }
  }
  SECTION("sizes above their limits are refused by file and key") {
    copy_model("base", dir.path, "model.safetensors");
    const json original = read_json(dir.path / "config.json");
    // 1,024 layers and H = 65,536 (issue 35) were once within the bounds and died late.
    const std::pair<const char*, int64_t> cases[] = {{"num_hidden_layers", 1000000000},
                                                     {"num_hidden_layers", 1024},
                                                     {"hidden_size", 65536},
                                                     {"num_labels", 10000000000},
                                                     {"vocab_size", 20000000},
                                                     {"hidden_size", int64_t{1} << 40},
                                                     {"intermediate_size", 100000000000},
                                                     {"vocab_size", 1000000000000}};
    for (const auto& [key, value] : cases) {
      json config = original;
      config[key] = value;
      if (std::string(key) == "num_labels") config.erase("id2label"), config.erase("label2id");
      write_json(dir.path / "config.json", config);
      const auto message = message_of();
      contains(message, "config.json: key '" + std::string(key) + "'");
      contains(message, "above the limit");
    }
  }
  SECTION("missing encoder key") {
    copy_model("base", dir.path, "model.safetensors");
    auto tensors = electra::read_safetensors(dir.path / "model.safetensors");
    tensors.erase("encoder.layer.1.output.dense.bias");
    electra::write_safetensors(dir.path / "model.safetensors", tensors);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "missing encoder key 'encoder.layer.1.output.dense.bias'");
  }
  SECTION("a layer more than config.json says") {
    copy_model("base", dir.path, "model.safetensors");
    json config = read_json(dir.path / "config.json");
    config["num_hidden_layers"] = 1;
    write_json(dir.path / "config.json", config);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "encoder.layer.1.");
  }
  SECTION("unsupported model_type and hidden_act") {
    copy_model("base", dir.path, "model.safetensors");
    json config = read_json(dir.path / "config.json");
    config["model_type"] = "bert";
    write_json(dir.path / "config.json", config);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "model_type");
    config["model_type"] = "electra";
    config["hidden_act"] = "quick_gelu";
    write_json(dir.path / "config.json", config);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "quick_gelu");
  }
  SECTION("a TF-style classifier under a sequence classification config") {
    copy_model("tokcls", dir.path, "model.safetensors");
    json config = read_json(dir.path / "config.json");
    config["architectures"] = json::array({"ElectraForSequenceClassification"});
    write_json(dir.path / "config.json", config);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "classifier.weight");
  }
  SECTION("an incomplete head") {
    copy_model("seqcls3", dir.path, "model.safetensors");
    auto tensors = electra::read_safetensors(dir.path / "model.safetensors");
    tensors.erase("classifier.out_proj.bias");
    electra::write_safetensors(dir.path / "model.safetensors", tensors);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "classifier.out_proj.bias");
  }
  SECTION("integer tensors where weights belong") {
    copy_model("base", dir.path, "model.safetensors");
    auto tensors = electra::read_safetensors(dir.path / "model.safetensors");
    tensors["embeddings.LayerNorm.bias"] = at::zeros({32}, at::kLong);
    electra::write_safetensors(dir.path / "model.safetensors", tensors);
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
    contains(message_of(), "embeddings.LayerNorm.bias");
  }
  SECTION("a truncated weights file") {
    copy_model("base", dir.path, "model.safetensors");
    const auto bytes = electra::read_file(dir.path / "model.safetensors");
    electra::write_file_atomic(dir.path / "model.safetensors", bytes.substr(0, bytes.size() / 2));
    CHECK_THROWS_AS(electra::load_pretrained(dir.path), std::runtime_error);
  }
  SECTION("asking for the pre-training head") {
    copy_model("base", dir.path, "model.safetensors");
    electra::LoadOptions options;
    options.architecture = electra::Architecture::pretraining;
    CHECK_THROWS_AS(electra::load_pretrained(dir.path, options), std::invalid_argument);
  }
}

TEST_CASE("a written initialised model has Hugging Face's initialisation", "[model]") {
  const fs::path dir = electra::test::fresh_dir("model_init");
  electra::ElectraConfig config = electra::test::tiny_config(300);
  config.pad_token_id = 3;
  electra::write_initialized_model(config, dir, {}, 11);
  const electra::ElectraModel model = electra::load_pretrained(dir);
  CHECK(model.config().architecture == electra::Architecture::model);
  for (const auto& [name, p] : model.named_parameters()) {
    INFO(name);
    if (name.find("LayerNorm.weight") != std::string::npos) {
      CHECK(at::equal(p, at::ones_like(p)));
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      CHECK(at::equal(p, at::zeros_like(p)));
    } else {
      const double std = p.std().item<double>();
      CHECK(std == Approx(config.initializer_range).epsilon(0.1));
      CHECK(std::abs(p.mean().item<double>()) < 0.005);
    }
  }
  std::map<std::string, at::Tensor> params;
  for (const auto& [name, p] : model.named_parameters()) params.emplace(name, p);
  const at::Tensor words = params.at("embeddings.word_embeddings.weight");
  CHECK(at::equal(words[3], at::zeros_like(words[3])));  // the padding row
  CHECK(words[2].abs().sum().item<double>() > 0);
}

TEST_CASE("BLAS the one LibTorch multiplies with is named, and OpenBLAS keeps AVX-512 kernels on AVX-512 CPUs",
          "[model][blas]") {
  // A real product, so that LibTorch has called into its BLAS (Debian's LibTorch: libblas.so.3).
  const at::Tensor a = at::ones({64, 64});
  CHECK(at::mm(a, a).sum().item<float>() == Approx(64.0 * 64 * 64));
  const electra::BlasInfo blas = electra::loaded_blas();
#ifdef ELECTRA_EXPECTED_BLAS_DIR
  // CMakeLists puts OpenBLAS's OpenMP build first for Debian's LibTorch (its pthread build fights LibTorch's threads)
  CHECK(blas.library.rfind(ELECTRA_EXPECTED_BLAS_DIR, 0) == 0);
  CHECK(electra::test::contains(blas.config, "USE_OPENMP"));
  CHECK_FALSE(blas.core.empty());
#endif
  const auto version = electra::test::run_electra("version");
  CHECK(version.status == 0);
  CHECK(electra::test::contains(version.out, "BLAS: "));
  if (!blas.library.empty()) CHECK(electra::test::contains(version.out, blas.library));

  SECTION("kernels without AVX-512 on an AVX-512 CPU are replaced by SkylakeX's") {
    CHECK(electra::better_openblas_core("Haswell", true) == "SkylakeX");
    CHECK(electra::better_openblas_core("Zen", true) == "SkylakeX");
    CHECK(electra::better_openblas_core("Haswell", false).empty());
    CHECK(electra::better_openblas_core("SkylakeX", true).empty());
    CHECK(electra::better_openblas_core("Cooperlake", true).empty());
    CHECK(electra::better_openblas_core("SAPPHIRERAPIDS", true).empty());
    CHECK(electra::better_openblas_core("", true).empty());  // not OpenBLAS
  }
}

// ---------------------------------------------------------------------------------------------------------- BERT
// tests/fixtures/models/bert: tiny random BERT checkpoints and their outputs, made by
// tools/fixtures/make_bert_fixtures.py with transformers.
namespace {

const fs::path kBert = kModels / "bert";
using electra::test::contains;

const json& bert_cases() {
  static const json cases = json::parse(electra::read_file(kBert / "bert_cases.json"));
  return cases;
}

Inputs bert_inputs() {
  const auto& in = bert_cases()["inputs"];
  return {to_tensor(in["input_ids"], at::kLong), to_tensor(in["attention_mask"], at::kLong),
          to_tensor(in["token_type_ids"], at::kLong)};
}

// One BERT fixture model's outputs and loss on the cases' inputs against transformers'.
void check_bert_against_hf(const electra::ElectraModel& model, const std::string& name, const std::string& source) {
  const auto& ref = bert_cases()["models"][name];
  const auto in = bert_inputs();
  at::NoGradGuard no_grad;
  const auto out = model.forward(in.ids, in.mask, in.types);
  const std::string what = "bert " + name + " from " + source;
  electra::ModelTargets targets;
  if (name == "base") {
    check_close(out.last_hidden_state, ref["last_hidden_state"], what + " last_hidden_state");
    check_close(out.pooler_output, ref["pooler_output"], what + " pooler_output");
    return;
  }
  if (name == "qa") {
    check_close(out.start_logits, ref["start_logits"], what + " start_logits");
    check_close(out.end_logits, ref["end_logits"], what + " end_logits");
    targets.start_positions = to_tensor(ref["start_positions"], at::kLong);
    targets.end_positions = to_tensor(ref["end_positions"], at::kLong);
  } else {
    check_close(out.logits, ref["logits"], what + " logits");
    targets.labels = to_tensor(ref["labels"], name == "regression" ? at::kFloat : at::kLong);
  }
  check_loss(model.loss(out, targets), ref["loss"].get<double>(), what);
}

std::set<std::string> safetensors_keys(const fs::path& file) {
  std::set<std::string> keys;
  for (const auto& [key, tensor] : electra::read_weights(file.parent_path())) keys.insert(key);
  return keys;
}

}  // namespace

TEST_CASE("model families: BERT configs are read, unknown model_types refused by name", "[model]") {
  using electra::Architecture;
  const auto c = electra::ElectraConfig::from_file(kBert / "seqcls3" / "config.json");
  CHECK(c.model_type == "bert");
  CHECK(c.architecture == Architecture::sequence_classification);
  CHECK(c.hf_class() == "BertForSequenceClassification");
  CHECK(c.embedding_size == c.hidden_size);  // BERT has no embedding projection
  CHECK(c.hidden_size == 16);
  CHECK(c.has_pooler());
  CHECK(electra::ElectraConfig::from_file(kBert / "tokcls" / "config.json").hf_class() == "BertForTokenClassification");
  CHECK_FALSE(electra::ElectraConfig::from_file(kBert / "tokcls" / "config.json").has_pooler());
  CHECK(electra::ElectraConfig::from_file(kBert / "mlm" / "config.json").architecture == Architecture::masked_lm);
  CHECK(electra::model_family_names() == std::vector<std::string>{"bert", "electra"});

  json j = read_json(kBert / "seqcls3" / "config.json");
  auto error = [&](const json& config) {
    try {
      electra::ElectraConfig::from_json_text(config.dump(), "/m/config.json");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  json other = j;
  other["model_type"] = "roberta";
  CHECK(error(other) == "/m/config.json: key 'model_type': unsupported value 'roberta' (supported: bert, electra)");
  other.erase("model_type");
  CHECK(error(other) == "/m/config.json: key 'model_type': missing (supported: bert, electra)");
  other = j;
  other["architectures"] = json::array({"ElectraForSequenceClassification"});
  CHECK(contains(error(other), "unsupported architecture 'ElectraForSequenceClassification' for model_type 'bert'"));
  CHECK(contains(error(other), "BertForSequenceClassification"));
  other = j;
  other["position_embedding_type"] = "relative_key";
  CHECK(contains(error(other),
                 "key 'position_embedding_type': unsupported value 'relative_key' (supported: absolute)"));
  other = j;
  other["is_decoder"] = true;
  CHECK(contains(error(other), "key 'is_decoder'"));
  // BertConfig has no embedding_size: transformers ignores the key, and so does the reader.
  other = j;
  other["embedding_size"] = 8;
  CHECK(electra::ElectraConfig::from_json_text(other.dump(), "c").embedding_size == 16);

  SECTION("electra inspect names the family") {
    const auto r = electra::test::run_electra(fmt::format("inspect --model '{}'", (kBert / "seqcls3").string()));
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "family:       bert (model_type)"));
    CHECK(contains(r.out, "built:        BertForSequenceClassification"));
    CHECK(contains(r.out, ", pooler"));
  }
  SECTION("load_pretrained and electra inspect name model_type for a folder of neither family") {
    TempDir tmp;
    copy_model("seqcls3", tmp.path, "model.safetensors");
    json config = read_json(tmp.path / "config.json");
    config["model_type"] = "deberta-v2";
    write_json(tmp.path / "config.json", config);
    CHECK_THROWS_WITH(electra::load_pretrained(tmp.path),
                      Catch::Matchers::Contains("key 'model_type': unsupported value 'deberta-v2' (supported: bert, "
                                                "electra)"));
    const auto r = electra::test::run_electra(fmt::format("inspect --model '{}'", tmp.path.string()));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "electra: error: " + (tmp.path / "config.json").string() +
                              ": key 'model_type': unsupported value 'deberta-v2' (supported: bert, electra)"));
  }
}

TEST_CASE("BERT fixture models match transformers' outputs and losses", "[model]") {
  for (const char* name : {"base", "seqcls3", "regression", "tokcls", "qa"}) {
    SECTION(name) {
      electra::LoadReport report;
      const auto model = electra::load_pretrained(kBert / name, {}, &report);
      CHECK(report.newly_initialised.empty());
      CHECK(report.ignored.empty());
      check_bert_against_hf(model, name, "model.safetensors");
    }
  }
  SECTION("pytorch_model.bin") {
    TempDir tmp;
    fs::copy_file(kBert / "seqcls3" / "config.json", tmp.path / "config.json");
    fs::copy_file(kBert / "seqcls3" / "pytorch_model.bin", tmp.path / "pytorch_model.bin");
    electra::LoadReport report;
    check_bert_against_hf(electra::load_pretrained(tmp.path, {}, &report), "seqcls3", "pytorch_model.bin");
    CHECK(report.weights_file.filename() == "pytorch_model.bin");
  }
  SECTION("the pooler and the classifier are BERT's (keys and depths)") {
    const auto model = electra::load_pretrained(kBert / "seqcls3");
    std::set<std::string> names;
    for (const auto& [name, tensor] : model.named_parameters()) names.insert(name);
    CHECK(names.count("bert.pooler.dense.weight") == 1);
    CHECK(names.count("classifier.weight") == 1);
    CHECK(names.count("classifier.bias") == 1);
    CHECK(names.count("bert.embeddings_project.weight") == 0);
    CHECK(names == safetensors_keys(kBert / "seqcls3" / "model.safetensors"));
    CHECK(model.parameter_depth("bert.pooler.dense.weight") == 3);
    CHECK(model.parameter_depth("bert.encoder.layer.1.output.dense.weight") == 2);
    CHECK(model.parameter_depth("bert.embeddings.word_embeddings.weight") == 0);
    for (const char* name : {"base", "seqcls3", "regression", "tokcls", "qa"}) {
      const auto each = electra::load_pretrained(kBert / name);
      int64_t built = 0;
      for (const auto& [key, tensor] : each.named_parameters()) built += tensor.numel();
      INFO(name);
      CHECK(each.config().parameter_count() == static_cast<double>(built));
    }
  }
}

TEST_CASE("BERT pre-training checkpoints: masked LM and next-sentence heads match transformers", "[model]") {
  const auto in = bert_inputs();
  const int64_t V = bert_cases()["vocab_size"].get<int64_t>();
  electra::PredictorOptions options;
  options.top_k = V;  // every logit, best first
  for (const char* name : {"pretraining", "mlm"}) {
    SECTION(name) {
      const auto& ref = bert_cases()["models"][name];
      const electra::Predictor predictor(kBert / name, options);
      const bool pretraining = std::string(name) == "pretraining";
      const at::Tensor hf = to_tensor(ref[pretraining ? "prediction_logits" : "logits"], at::kFloat);
      std::vector<electra::PredictInput> inputs(in.ids.size(0));
      for (int64_t b = 0; b < in.ids.size(0); ++b) {
        auto row = [&](const at::Tensor& t) {
          const at::Tensor r = t[b].contiguous();
          return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
        };
        inputs[b] = {row(in.ids), row(in.mask), row(in.types), {}};
        if (!pretraining) inputs[b].labels = row(to_tensor(ref["labels"], at::kLong));
      }
      std::vector<const electra::PredictInput*> pointers;
      for (const auto& i : inputs) pointers.push_back(&i);
      const auto outputs = predictor.run(pointers);
      double loss_sum = 0;
      for (int64_t b = 0; b < in.ids.size(0); ++b) {
        const int64_t n = in.ids.size(1);
        const at::Tensor ours = torch::tensor(outputs[b].top_logits).view({n, V});
        const at::Tensor sorted = std::get<0>(hf[b].sort(/*dim=*/1, /*descending=*/true));
        // max |ours - HF| <= 1e-4 * max |HF| over every vocabulary logit of every position
        const double diff = (ours - sorted).abs().max().item<double>(), scale = sorted.abs().max().item<double>();
        INFO(name << " row " << b << ": max diff " << diff << ", max |HF| " << scale);
        CHECK(diff <= 1e-4 * scale);
        // the ids of the best entries are HF's argmax
        CHECK(outputs[b].top_ids[0] == hf[b][0].argmax().item<int64_t>());
        if (pretraining) {
          const at::Tensor nsp = torch::tensor(outputs[b].next_sentence_logits);
          const at::Tensor hf_nsp = to_tensor(ref["seq_relationship_logits"], at::kFloat)[b];
          CHECK((nsp - hf_nsp).abs().max().item<double>() <= 1e-4 * hf_nsp.abs().max().item<double>());
        } else {
          REQUIRE(outputs[b].loss.has_value());
          loss_sum += *outputs[b].loss;
        }
      }
      // Every row scores two positions, so HF's mean over the batch is the mean of the rows' losses.
      if (!pretraining) check_loss(torch::tensor(loss_sum / in.ids.size(0)), ref["loss"].get<double>(), "mlm loss");
      // BertForPreTraining's loss needs next-sentence labels too: labels are refused, by name.
      electra::PredictInput labelled = inputs[0];
      labelled.labels.assign(labelled.input_ids.size(), -100);
      labelled.labels[1] = 5;
      CHECK(electra::labels_error(predictor.config(), labelled).empty() == !pretraining);
      if (pretraining) CHECK(contains(electra::labels_error(predictor.config(), labelled), "BertForPreTraining"));
    }
  }
  SECTION("a stored decoder that is not the word embedding matrix is refused") {
    TempDir tmp;
    copy_model("bert/mlm", tmp.path, "model.safetensors");
    auto tensors = electra::read_weights(tmp.path);
    const at::Tensor embeddings = tensors.at("bert.embeddings.word_embeddings.weight");
    tensors.emplace("cls.predictions.decoder.weight", at::randn(embeddings.sizes()));
    electra::write_safetensors(tmp.path / "model.safetensors", tensors);
    CHECK_THROWS_WITH(electra::Predictor(tmp.path, options),
                      Catch::Matchers::Contains(
                          "key 'cls.predictions.decoder.weight' is not the word embedding matrix"));
    // The same matrix stored (as transformers 4 and the original BERT checkpoints store it) is accepted.
    tensors["cls.predictions.decoder.weight"] = embeddings.clone();
    electra::write_safetensors(tmp.path / "model.safetensors", tensors);
    CHECK_NOTHROW(electra::Predictor(tmp.path, options));
  }
}

TEST_CASE("BERT one AdamW training step matches transformers", "[model]") {
  const auto in = bert_inputs();
  for (const char* name : {"seqcls3", "tokcls"}) {
    SECTION(name) {
      const auto& ref = bert_cases()["models"][name];
      electra::ElectraModel model = electra::load_pretrained(kBert / name);
      model.module()->train();  // dropout is 0 in the fixture
      electra::OptimizerOptions o;
      o.learning_rate = 1e-3;
      o.weight_decay = 0.01;
      o.adam_epsilon = 1e-8;
      o.max_grad_norm = 1.0;
      electra::AdamW optimizer(model, o);
      at::Tensor before;
      {
        at::NoGradGuard no_grad;
        before = model.forward(in.ids, in.mask, in.types).logits.clone();
      }
      electra::TrainStep step(model, optimizer, o.max_grad_norm, false);
      std::vector<electra::Batch> batch(1);
      batch[0].input_ids = in.ids;
      batch[0].attention_mask = in.mask;
      batch[0].token_type_ids = in.types;
      batch[0].targets.labels = to_tensor(ref["labels"], at::kLong);
      const electra::StepResult r = step.run(batch, o.learning_rate);
      REQUIRE(r.finite);
      const double hf_loss = ref["train_step"]["loss"], hf_norm = ref["train_step"]["grad_norm_before_clip"];
      CHECK(std::abs(r.loss - hf_loss) <= 1e-4 * std::abs(hf_loss));
      CHECK(std::abs(r.grad_norm - hf_norm) <= 1e-4 * std::abs(hf_norm));
      model.module()->eval();
      at::NoGradGuard no_grad;
      const at::Tensor after = model.forward(in.ids, in.mask, in.types).logits;
      check_close(after, ref["train_step"]["logits_after"], std::string(name) + " logits after one step");
      // The step moved the logits by far more than the tolerance, so the check above is not vacuous.
      const at::Tensor hf_after = to_tensor(ref["train_step"]["logits_after"], at::kFloat);
      CHECK((before - hf_after).abs().max().item<double>() > 10 * 1e-4 * hf_after.abs().max().item<double>());
    }
  }
}

TEST_CASE("BERT save_pretrained writes BERT's layout and round-trips exactly", "[model]") {
  const auto in = bert_inputs();
  const std::map<std::string, std::string> classes = {
      {"base", "BertModel"}, {"seqcls3", "BertForSequenceClassification"}, {"tokcls", "BertForTokenClassification"},
      {"qa", "BertForQuestionAnswering"}};
  for (const auto& [name, hf_class] : classes) {
    SECTION(name) {
      TempDir tmp;
      const auto model = electra::load_pretrained(kBert / name);
      electra::save_pretrained(model, tmp.path / "saved", kBert / name);
      const json config = read_json(tmp.path / "saved" / "config.json");
      CHECK(config["model_type"] == "bert");
      CHECK(config["architectures"] == json::array({hf_class}));
      CHECK_FALSE(config.contains("embedding_size"));
      // The keys transformers' class has, no more, no fewer: the same as the file transformers wrote.
      CHECK(safetensors_keys(tmp.path / "saved" / "model.safetensors") ==
            safetensors_keys(kBert / name / "model.safetensors"));
      const auto again = electra::load_pretrained(tmp.path / "saved");
      at::NoGradGuard no_grad;
      const auto a = model.forward(in.ids, in.mask, in.types), b = again.forward(in.ids, in.mask, in.types);
      CHECK(at::equal(a.last_hidden_state, b.last_hidden_state));
      if (a.logits.defined()) CHECK(at::equal(a.logits, b.logits));
      if (a.start_logits.defined()) CHECK(at::equal(a.start_logits, b.start_logits));
      if (a.pooler_output.defined()) CHECK(at::equal(a.pooler_output, b.pooler_output));
      check_bert_against_hf(again, name, "electra's save_pretrained");
    }
  }
}

TEST_CASE("BERT heads are built on BertModel and pre-training checkpoints as transformers builds them", "[model]") {
  const auto in = bert_inputs();
  electra::LoadOptions seqcls;
  seqcls.architecture = electra::Architecture::sequence_classification;
  seqcls.id2label = electra::default_labels(4);
  const auto base = electra::load_pretrained(kBert / "base");
  auto tensor_of = [](const electra::ElectraModel& m, const std::string& key) {
    for (const auto& [name, tensor] : m.named_parameters())
      if (name == key) return tensor;
    FAIL("no parameter " << key);
    return at::Tensor();
  };

  SECTION("BertModel -> BertForSequenceClassification: the pooler loaded, the classifier new") {
    electra::LoadReport report;
    const auto model = electra::load_pretrained(kBert / "base", seqcls, &report);
    CHECK(report.newly_initialised == std::vector<std::string>{"classifier.weight", "classifier.bias"});
    CHECK(at::equal(tensor_of(model, "bert.pooler.dense.weight"), tensor_of(base, "pooler.dense.weight")));
    const at::Tensor w = tensor_of(model, "classifier.weight");
    CHECK(w.std().item<double>() == Approx(0.02).margin(0.01));  // normal(0, initializer_range)
    CHECK(tensor_of(model, "classifier.bias").abs().max().item<double>() == 0);
    at::NoGradGuard no_grad;
    check_close(model.forward(in.ids, in.mask, in.types).pooler_output, bert_cases()["models"]["base"]["pooler_output"],
                "pooler under a new head");
  }
  SECTION("BertForMaskedLM -> BertForSequenceClassification: a new pooler, cls.* ignored") {
    electra::LoadReport report;
    const auto model = electra::load_pretrained(kBert / "mlm", seqcls, &report);
    const std::set<std::string> fresh(report.newly_initialised.begin(), report.newly_initialised.end());
    CHECK(fresh == std::set<std::string>{"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight",
                                         "classifier.bias"});
    CHECK_FALSE(report.ignored.empty());
    for (const auto& key : report.ignored) CHECK(key.rfind("cls.", 0) == 0);
    CHECK(tensor_of(model, "bert.pooler.dense.bias").abs().max().item<double>() == 0);
    electra::LoadReport bare;
    electra::load_pretrained(kBert / "mlm", {}, &bare);  // BertModel: its own names have no prefix
    CHECK(bare.newly_initialised == std::vector<std::string>{"pooler.dense.weight", "pooler.dense.bias"});
  }
  SECTION("BertModel -> BertForTokenClassification: the pooler ignored, as transformers does") {
    electra::LoadOptions tokcls;
    tokcls.architecture = electra::Architecture::token_classification;
    tokcls.id2label = electra::default_labels(3);
    electra::LoadReport report;
    const auto model = electra::load_pretrained(kBert / "base", tokcls, &report);
    CHECK(report.ignored == std::vector<std::string>{"pooler.dense.bias", "pooler.dense.weight"});
    for (const auto& [name, tensor] : model.named_parameters()) CHECK(name.find("pooler") == std::string::npos);
    TempDir tmp;
    electra::save_pretrained(model, tmp.path / "saved", "");
    for (const auto& key : safetensors_keys(tmp.path / "saved" / "model.safetensors"))
      CHECK(key.find("pooler") == std::string::npos);
  }
  SECTION("a pooler cut in half is refused") {
    TempDir tmp;
    copy_model("bert/base", tmp.path, "model.safetensors");
    auto tensors = electra::read_weights(tmp.path);
    tensors.erase("pooler.dense.bias");
    electra::write_safetensors(tmp.path / "model.safetensors", tensors);
    CHECK_THROWS_WITH(electra::load_pretrained(tmp.path, seqcls),
                      Catch::Matchers::Contains("incomplete pooler: key 'pooler.dense.bias' is missing"));
  }
}

TEST_CASE("BERT's WordPiece tokenizer files give transformers' ids", "[model]") {
  const auto tokenizer = electra::Tokenizer::from_dir(kBert / "seqcls3");
  const auto& cases = bert_cases();
  electra::EncodeOptions options;
  options.max_length = cases["max_length"].get<int64_t>();
  for (size_t i = 0; i < cases["texts"].size(); ++i) {
    const auto& pair = cases["texts"][i];
    const std::string text = pair[0];
    std::optional<std::string> second;
    if (!pair[1].is_null()) second = pair[1].get<std::string>();
    auto e = tokenizer.encode(text, second ? std::optional<std::string_view>(*second) : std::nullopt, options);
    tokenizer.pad(e, options.max_length);
    INFO(text);
    CHECK(e.input_ids == cases["inputs"]["input_ids"][i].get<std::vector<int64_t>>());
    CHECK(e.token_type_ids == cases["inputs"]["token_type_ids"][i].get<std::vector<int64_t>>());
    CHECK(e.attention_mask == cases["inputs"]["attention_mask"][i].get<std::vector<int64_t>>());
  }
}
