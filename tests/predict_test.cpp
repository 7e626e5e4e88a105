// End to end: the real `electra predict` / `electra inspect` binary on the fixture models.
#include <sys/wait.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "tests/catch.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kModels = fs::path(electra::test::fixtures_dir()) / "models";

const json& model_cases() {
  static const json cases = json::parse(electra::read_file(kModels / "model_cases.json"));
  return cases;
}

struct TempDir : electra::test::TempDir {
  TempDir() : electra::test::TempDir("predict") {}
};

// Runs the electra binary with `args`; returns its exit code, stderr in `err`.
int run_electra(const std::string& args, const TempDir&, std::string* err = nullptr) {
  const auto r = electra::test::run_electra("--threads 1 " + args);
  if (err) *err = r.err;
  return r.status;
}

std::vector<std::string> read_raw_lines(const fs::path& file) {
  std::vector<std::string> out;
  std::istringstream in(electra::read_file(file));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<json> read_lines(const fs::path& file) {
  std::vector<json> out;
  for (const auto& line : read_raw_lines(file)) out.push_back(json::parse(line));
  return out;
}

// The fixture inputs without their padding, one JSON line each.
std::vector<std::string> input_lines() {
  const auto& in = model_cases()["inputs"];
  std::vector<std::string> lines;
  for (size_t i = 0; i < in["input_ids"].size(); ++i) {
    size_t n = 0;
    for (const auto& m : in["attention_mask"][i]) n += m.get<int>();
    json line;
    for (const char* key : {"input_ids", "attention_mask", "token_type_ids"})
      line[key] = std::vector<int64_t>(in[key][i].begin(), in[key][i].begin() + n);
    if (i == 2) line.erase("token_type_ids");  // optional
    lines.push_back(line.dump());
  }
  return lines;
}

void write_lines(const fs::path& file, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  electra::write_file_atomic(file, text);
}

double max_abs_diff(const json& ours, const json& ref, double* scale) {
  if (ours.is_array()) {
    REQUIRE(ref.is_array());
    REQUIRE(ours.size() <= ref.size());
    double d = 0;
    for (size_t i = 0; i < ours.size(); ++i) d = std::max(d, max_abs_diff(ours[i], ref[i], scale));
    return d;
  }
  *scale = std::max(*scale, std::abs(ref.get<double>()));
  return std::abs(ours.get<double>() - ref.get<double>());
}

void check_close(const json& ours, const json& ref, const std::string& what) {
  double scale = 0;
  const double diff = max_abs_diff(ours, ref, &scale);
  INFO(what << ": max diff " << diff << ", max |HF| " << scale);
  CHECK(diff <= 1e-4 * scale);
}

}  // namespace

TEST_CASE("electra predict reproduces Hugging Face outputs for every head", "[predict]") {
  TempDir tmp;
  const auto input = tmp.path / "in.jsonl";
  write_lines(input, input_lines());
  for (const std::string name : {"seqcls3", "regression", "tokcls", "qa", "base"}) {
    INFO("model " << name);
    const auto output = tmp.path / (name + ".jsonl");
    std::string err;
    REQUIRE(run_electra(fmt::format("predict --model '{}' --input '{}' --output '{}' --batch-size 3",
                                    (kModels / name).string(), input.string(), output.string()),
                        tmp, &err) == 0);
    const auto lines = read_lines(output);
    REQUIRE(lines.size() == 4);
    const auto& ref = model_cases()["models"][name];
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto& r = lines[i];
      const std::string what = fmt::format("{} line {}", name, i + 1);
      const auto n = json::parse(input_lines()[i])["input_ids"].size();
      if (name == "seqcls3") {
        std::vector<std::string> keys;  // in the order written
        const auto ordered = nlohmann::ordered_json::parse(read_raw_lines(output)[i]);
        for (const auto& item : ordered.items()) keys.push_back(item.key());
        CHECK(keys == std::vector<std::string>{"label", "score", "logits"});
        check_close(r["logits"], ref["logits"][i], what);
        const auto logits = r["logits"].get<std::vector<double>>();
        const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
        double sum = 0;
        for (const double l : logits) sum += std::exp(l - logits[best]);
        CHECK(r["label"] == fmt::format("LABEL_{}", best));
        CHECK(r["score"].get<double>() == Approx(1.0 / sum).epsilon(1e-5));
      } else if (name == "regression") {
        CHECK(r["score"] == r["logits"][0]);
        check_close(r["logits"], ref["logits"][i], what);
      } else if (name == "tokcls") {
        CHECK(r["labels"].size() == n);
        CHECK(r["logits"].size() == n);
        check_close(r["logits"], ref["logits"][i], what);
        CHECK(r["labels"][1].get<std::string>().rfind("LABEL_", 0) == 0);
      } else if (name == "qa") {
        CHECK(r["start_logits"].size() == n);
        check_close(r["start_logits"], ref["start_logits"][i], what);
        check_close(r["end_logits"], ref["end_logits"][i], what);
      } else {
        CHECK(r["last_hidden_state"].size() == n);
        CHECK(r["last_hidden_state"][0].size() == 64);
        check_close(r["last_hidden_state"], ref["last_hidden_state"][i], what);
      }
    }
  }
}

TEST_CASE("electra predict reports malformed lines in place and still predicts the rest", "[predict]") {
  TempDir tmp;
  const auto good = input_lines();
  write_lines(tmp.path / "in.jsonl", {good[0], "not json", R"({"input_ids": []})", good[1],
                                      R"({"input_ids": [2, 8000]})", R"({"input_ids": [2, 3], "attention_mask": [1]})",
                                      R"({"input_ids": [2, 3], "label": 1})", good[3]});
  std::string err;
  const int rc = run_electra(fmt::format("predict --model '{}' --input '{}' --output '{}' --batch-size 2",
                                         (kModels / "seqcls3").string(), (tmp.path / "in.jsonl").string(),
                                         (tmp.path / "out.jsonl").string()),
                             tmp, &err);
  CHECK(rc != 0);
  CHECK(err.find("5 of 8 lines") != std::string::npos);
  const auto lines = read_lines(tmp.path / "out.jsonl");
  REQUIRE(lines.size() == 8);
  const auto& ref = model_cases()["models"]["seqcls3"]["logits"];
  check_close(lines[0]["logits"], ref[0], "line 1");
  check_close(lines[3]["logits"], ref[1], "line 4");
  check_close(lines[7]["logits"], ref[3], "line 8");
  for (const int i : {1, 2, 4, 5, 6}) {
    INFO("line " << i + 1 << ": " << lines[i].dump());
    REQUIRE(lines[i].contains("error"));
    CHECK(lines[i]["error"].get<std::string>().rfind(fmt::format("line {}: ", i + 1), 0) == 0);
  }
  CHECK(lines[4]["error"].get<std::string>().find("8000") != std::string::npos);
  CHECK(lines[6]["error"].get<std::string>().find("label") != std::string::npos);
}

TEST_CASE("electra predict and inspect refuse bad arguments with a clear error", "[predict]") {
  TempDir tmp;
  write_lines(tmp.path / "in.jsonl", input_lines());
  std::string err;
  const std::string model = (kModels / "seqcls3").string(), input = (tmp.path / "in.jsonl").string();
  if (electra::test::contains(electra::test::run_electra("version").out, "CUDA devices: 0;")) {
    CHECK(run_electra(fmt::format("predict --model '{}' --input '{}' --device cuda", model, input), tmp, &err) != 0);
    CHECK(err.find("CUDA is not available") != std::string::npos);
  }
  CHECK(run_electra(fmt::format("predict --model '{}' --input '{}' --device tpu", model, input), tmp, &err) != 0);
  CHECK(run_electra(fmt::format("predict --model '{}' --input '{}' --batch-size 0", model, input), tmp, &err) != 0);
  CHECK(run_electra(fmt::format("predict --model '{}' --input '{}'", (tmp.path / "none").string(), input), tmp, &err) != 0);
  CHECK(err.find("not a model directory") != std::string::npos);
  CHECK(run_electra(fmt::format("predict --model '{}' --input '{}'", model, (tmp.path / "none.jsonl").string()), tmp,
                    &err) != 0);
  CHECK(err.find("none.jsonl") != std::string::npos);
  CHECK(run_electra(fmt::format("inspect --model '{}'", tmp.path.string()), tmp, &err) != 0);
  CHECK(err.find("missing config.json") != std::string::npos);
}

TEST_CASE("electra inspect shows head, labels, counts and weights", "[predict]") {
  TempDir tmp;
  const auto out = tmp.path / "inspect.txt";
  REQUIRE(run_electra(fmt::format("inspect --model '{}' > '{}'", (kModels / "seqcls3").string(), out.string()), tmp) == 0);
  const auto text = electra::read_file(out);
  INFO(text);
  CHECK(text.find("built:        ElectraForSequenceClassification") != std::string::npos);
  CHECK(text.find("3 (0=LABEL_0, 1=LABEL_1, 2=LABEL_2)") != std::string::npos);
  // 8000*32 + 64*32 + 2*32 + 2*32 + projection 32*64 + 64; two layers of 33,472; head 64*64 + 64 + 3*64 + 3
  CHECK(text.find("embeddings 260,288, encoder 66,944, head 4,355, total 331,587") != std::string::npos);
  CHECK(text.find("model.safetensors (F32)") != std::string::npos);
}

TEST_CASE("electra predict tokenises text lines with the model's vocabulary", "[predict]") {
  TempDir tmp;
  // The fixture ids come from a cased tokenizer (no lowercasing, accents kept); say so as a model dir would.
  const auto model = tmp.path / "model";
  fs::create_directories(model);
  for (const char* file : {"config.json", "model.safetensors", "vocab.txt"})
    fs::copy_file(kModels / "seqcls3" / file, model / file);
  electra::write_file_atomic(model / "tokenizer_config.json", R"({"do_lower_case": false, "strip_accents": false})");
  std::vector<std::string> lines;
  for (const auto& pair : model_cases()["texts"]) {
    json line{{"text", pair[0]}};
    if (!pair[1].is_null()) line["text_pair"] = pair[1];
    lines.push_back(line.dump());
  }
  lines.push_back(R"({"text": 3})");
  lines.push_back(R"({"text": "a", "input_ids": [2]})");
  write_lines(tmp.path / "in.jsonl", lines);
  // The fixture encodings were truncated to 24 tokens (the first pair needs it).
  const int rc = run_electra(fmt::format("predict --model '{}' --input '{}' --output '{}' --max-length 24", model.string(),
                                         (tmp.path / "in.jsonl").string(), (tmp.path / "out.jsonl").string()),
                             tmp);
  CHECK(rc != 0);  // the two bad lines
  const auto out = read_lines(tmp.path / "out.jsonl");
  REQUIRE(out.size() == 6);
  for (size_t i = 0; i < 4; ++i) check_close(out[i]["logits"], model_cases()["models"]["seqcls3"]["logits"][i], "text");
  CHECK(out[4]["error"].get<std::string>().rfind("line 5: ", 0) == 0);
  CHECK(out[5]["error"].get<std::string>().rfind("line 6: ", 0) == 0);

  SECTION("--max-length truncates, and may not exceed the model's positions") {
    write_lines(tmp.path / "one.jsonl", {lines[0]});
    REQUIRE(run_electra(fmt::format("predict --model '{}' --input '{}' --output '{}' --max-length 8",
                                    model.string(), (tmp.path / "one.jsonl").string(),
                                    (tmp.path / "one_out.jsonl").string()),
                        tmp) == 0);
    std::string err;
    CHECK(run_electra(fmt::format("predict --model '{}' --input '{}' --max-length 65", model.string(),
                                  (tmp.path / "one.jsonl").string()),
                      tmp, &err) != 0);
    CHECK(err.find("--max-length") != std::string::npos);
    err.clear();  // 0 is not taken for "the default"
    CHECK(run_electra(fmt::format("predict --model '{}' --input '{}' --max-length 0", model.string(),
                                  (tmp.path / "one.jsonl").string()),
                      tmp, &err) != 0);
    CHECK(err.find("--max-length") != std::string::npos);
  }
}
