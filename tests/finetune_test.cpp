#include <nlohmann/json.hpp>
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "architectures/electra_model.h"
#include "common/files.h"
#include "tests/catch.h"
#include "tests/model_support.h"
#include "train/options.h"
#include "train/trainer.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path fresh_dir(const std::string& name) { return electra::test::fresh_dir("finetune_" + name); }

// A task only learning solves: the label says which of two marker words ("good" / "bad") the text holds,
// among random filler words. Written in NSMC's upstream format (id, document, label; header line).
void write_marker_data(const fs::path& dir, int train_rows, int test_rows) {
  fs::create_directories(dir);
  std::mt19937 rng(1234);
  auto write = [&](const fs::path& file, int rows, int first_id) {
    std::ofstream out(file);
    out << "id\tdocument\tlabel\n";
    for (int i = 0; i < rows; ++i) {
      const int label = static_cast<int>(rng() % 2);
      const int length = 4 + static_cast<int>(rng() % 8);
      const int marker_at = static_cast<int>(rng() % length);
      std::string text;
      for (int w = 0; w < length; ++w) {
        if (!text.empty()) text += ' ';
        text += w == marker_at ? (label == 1 ? "good" : "bad") : "w" + std::to_string(rng() % 60);
      }
      out << first_id + i << '\t' << text << '\t' << label << '\n';
    }
  };
  write(dir / "ratings_train.txt", train_rows, 1000);
  write(dir / "ratings_test.txt", test_rows, 9000);
}

// A random-init tiny ELECTRA (bare encoder) with a 67-word vocabulary, in HF layout.
fs::path make_tiny_model(const fs::path& dir) {
  const fs::path tok = dir / "tokenizer";
  fs::create_directories(tok);
  {
    std::ofstream vocab(tok / "vocab.txt");
    vocab << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\n";
    for (int i = 0; i < 60; ++i) vocab << "w" << i << "\n";
  }
  std::ofstream(tok / "tokenizer_config.json") << R"({"do_lower_case": false})" << "\n";
  electra::ElectraConfig config = electra::test::tiny_config(67);
  config.max_position_embeddings = 128;
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.1;  // as a real checkpoint trains
  at::manual_seed(0);
  electra::ElectraModel model(config);
  const fs::path model_dir = dir / "model";
  electra::save_pretrained(model, model_dir, tok);
  return model_dir;
}

electra::ExperimentOptions marker_options(const fs::path& data_dir, const fs::path& out) {
  electra::ExperimentOptions o;
  o.model = "tiny-random";
  o.task = "nsmc";
  o.output_dir = out.string();
  o.data.data_dir = data_dir.string();
  o.data.max_seq_length = 32;
  o.data.dev_from_train = 0.2;
  o.data.bucket_multiple = 8;
  o.optimizer.learning_rate = 2e-3;
  o.optimizer.weight_decay = 0.01;
  o.schedule.warmup_ratio = 0.1;
  o.train.epochs = 4;
  o.train.batch_size = 16;
  o.train.eval_every = 20;
  o.train.logging_every = 10;
  o.train.save_every = 10;
  return o;
}

std::map<std::string, at::Tensor> weights(const fs::path& dir) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, p] : electra::load_pretrained(dir).named_parameters()) out[name] = p.detach().clone();
  return out;
}

std::string eval_lines(const fs::path& metrics_jsonl) {
  std::istringstream in(electra::read_file(metrics_jsonl));
  std::string line, out;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    if (j["type"] == "eval") out += j["split"].get<std::string>() + j["metrics"].dump() + "\n";
    if (j["type"] == "train") out += std::to_string(j["step"].get<int64_t>()) + " " + j["loss"].dump() + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("finetune learns a marker-word task from a random-init tiny model", "[finetune]") {
  const fs::path root = fresh_dir("learn");
  write_marker_data(root / "data", 400, 200);
  electra::RunControl control;
  control.model_dir = make_tiny_model(root);
  std::ostringstream log;
  control.log = &log;
  const auto options = marker_options(root / "data", root / "run");
  const auto start = std::chrono::steady_clock::now();
  const auto outcomes = electra::run_experiment(electra::find_task(options.task), options, control);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(outcomes.size() == 1);
  REQUIRE(outcomes[0].finished);
  const json results = json::parse(electra::read_file(root / "run" / "results.json"));
  INFO(log.str());
  const double dev = results["dev_carved_metrics"]["accuracy"];
  const double test = results["metrics"]["accuracy"];
  WARN("marker task: carved dev accuracy " << dev << ", test accuracy " << test << ", " << seconds << " s");
  CHECK(dev >= 95.0);
  CHECK(test >= 95.0);
  CHECK(seconds < 60.0);
  CHECK(results["split"] == "test");
  CHECK(results["main_metric"] == "accuracy");
  CHECK(results["metrics"]["main"] == results["metrics"]["accuracy"]);
  CHECK(results["schema_version"] == 1);
  CHECK(results["dev_source"].get<std::string>().find("carved") != std::string::npos);
  CHECK(fs::exists(root / "run" / "best" / "config.json"));
  CHECK(fs::exists(root / "run" / "best" / "vocab.txt"));
  CHECK(fs::exists(root / "run" / "predictions_test.txt"));
  CHECK(fs::exists(root / "run" / "config.yaml"));
  // The selected model scores what results.json says when evaluated again.
  CHECK(electra::load_experiment(root / "run" / "config.yaml").task == "nsmc");
}

TEST_CASE("finetune resumed after an interruption ends bit-identical to an uninterrupted run", "[finetune]") {
  const fs::path root = fresh_dir("resume");
  write_marker_data(root / "data", 120, 40);
  electra::RunControl control;
  control.model_dir = make_tiny_model(root);
  std::ostringstream log;
  control.log = &log;
  auto options = marker_options(root / "data", root / "full");
  options.train.epochs = 3;  // 96 train rows / 16 = 6 steps per epoch, 18 steps
  options.train.eval_every = 4;
  options.train.save_every = 5;
  options.train.batch_size = 16;
  options.train.gradient_accumulation_steps = 2;
  REQUIRE(electra::run_experiment(electra::find_task(options.task), options, control)[0].finished);

  SECTION("same seed reruns bit-identically") {
    auto again = options;
    again.output_dir = (root / "again").string();
    REQUIRE(electra::run_experiment(electra::find_task(again.task), again, control)[0].finished);
    const auto a = weights(root / "full" / "best");
    const auto b = weights(root / "again" / "best");
    for (const auto& [name, t] : a) CHECK(at::equal(t, b.at(name)));
  }
  SECTION("stop after 7 steps (mid-epoch, between checkpoints), resume") {
    auto part = options;
    part.output_dir = (root / "part").string();
    electra::RunControl stop = control;
    stop.stop_after_steps = 7;
    const auto first = electra::run_experiment(electra::find_task(part.task), part, stop);
    REQUIRE_FALSE(first[0].finished);
    CHECK(first[0].steps == 7);
    CHECK_FALSE(fs::exists(root / "part" / "results.json"));
    // Resuming needs the flag; a plain rerun into the same directory refuses.
    CHECK_THROWS_AS(electra::run_experiment(electra::find_task(part.task), part, control), std::invalid_argument);
    electra::RunControl resume = control;
    resume.resume = true;
    const auto second = electra::run_experiment(electra::find_task(part.task), part, resume);
    REQUIRE(second[0].finished);
    CHECK(second[0].steps == 18);
    const auto a = weights(root / "full" / "best");
    const auto b = weights(root / "part" / "best");
    REQUIRE(a.size() == b.size());
    for (const auto& [name, t] : a) {
      INFO(name);
      CHECK(at::equal(t, b.at(name)));
    }
    const json ra = json::parse(electra::read_file(root / "full" / "results.json"));
    const json rb = json::parse(electra::read_file(root / "part" / "results.json"));
    CHECK(ra["metrics"] == rb["metrics"]);
    CHECK(ra["split_metrics"] == rb["split_metrics"]);
    CHECK(ra["best_step"] == rb["best_step"]);
    CHECK(eval_lines(root / "full" / "metrics.jsonl") == eval_lines(root / "part" / "metrics.jsonl"));
  }
}

TEST_CASE("finetune reports missing data, unknown tasks and bad runs clearly", "[finetune]") {
  const fs::path root = fresh_dir("errors");
  electra::RunControl control;
  control.model_dir = make_tiny_model(root);
  std::ostringstream log;
  control.log = &log;
  auto options = marker_options(root / "nowhere", root / "run");
  SECTION("missing data file names the file") {
    try {
      electra::run_experiment(electra::find_task(options.task), options, control);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("ratings_train.txt") != std::string::npos);
    }
  }
  SECTION("unknown task") {
    options.task = "nsmcc";
    CHECK_THROWS_AS(electra::run_experiment(electra::find_task(options.task), options, control), std::invalid_argument);
  }
  SECTION("resume without a saved state") {
    write_marker_data(root / "data", 40, 10);
    options.data.data_dir = (root / "data").string();
    control.resume = true;
    CHECK_THROWS_AS(electra::run_experiment(electra::find_task(options.task), options, control), std::runtime_error);
  }
  SECTION("non-finite loss stops with a clear message") {
    write_marker_data(root / "data", 40, 10);
    options.data.data_dir = (root / "data").string();
    options.optimizer.learning_rate = 1e30;
    options.optimizer.max_grad_norm = 0;
    try {
      electra::run_experiment(electra::find_task(options.task), options, control);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("non-finite loss") != std::string::npos);
    }
  }
}

TEST_CASE("electra finetune runs end to end from a YAML config", "[finetune]") {
  const fs::path root = fresh_dir("cli");
  write_marker_data(root / "data", 80, 20);
  const fs::path model = make_tiny_model(root);
  std::ofstream(root / "exp.yaml") << "model: " << model.string() << "\ntask: nsmc\ndata:\n  max_seq_length: 32\n"
                                   << "  data_dir: " << (root / "data").string() << "\n"
                                   << "optimizer:\n  learning_rate: 2e-3\ntrain:\n  epochs: 1\n  batch_size: 16\n";
  auto run = [&](const std::string& args) { return electra::test::run_electra_merged("--threads 1 finetune " + args); };
  SECTION("train and write the run directory") {
    const auto [rc, out] = run("--config " + (root / "exp.yaml").string() + " --output-dir " + (root / "run").string() +
                               " --set train.logging_every=1");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(fs::exists(root / "run" / "results.json"));
    CHECK(fs::exists(root / "run" / "metrics.jsonl"));
    CHECK(out.find("accuracy") != std::string::npos);
  }
  SECTION("dump-config prints the resolved YAML") {
    const auto [rc, out] = run("--config " + (root / "exp.yaml").string() + " --set optimizer.weight_decay=0.5 --dump-config");
    REQUIRE(rc == 0);
    CHECK(out.find("weight_decay: 0.5") != std::string::npos);
    CHECK(out.find("task: \"nsmc\"") != std::string::npos);
  }
  SECTION("unknown key fails naming the key") {
    std::ofstream(root / "bad.yaml") << "task: nsmc\ntrain:\n  epoch: 3\n";
    const auto [rc, out] = run("--config " + (root / "bad.yaml").string());
    CHECK(rc != 0);
    CHECK(out.find("train.epoch") != std::string::npos);
    CHECK(out.find("bad.yaml") != std::string::npos);
  }
}

TEST_CASE("electra finetune fine-tunes a BERT checkpoint and writes BERT's layout", "[finetune]") {
  const fs::path root = fresh_dir("bert");
  write_marker_data(root / "data", 48, 16);
  // tools/fixtures/make_bert_fixtures.py's BertModel (keys without the bert. prefix, a pooler, vocab.txt).
  const fs::path model = fs::path(electra::test::fixtures_dir()) / "models" / "bert" / "base";
  std::ofstream(root / "exp.yaml") << "model: " << model.string() << "\ntask: nsmc\ndata:\n  max_seq_length: 32\n"
                                   << "  data_dir: " << (root / "data").string() << "\n"
                                   << "optimizer:\n  learning_rate: 2e-3\ntrain:\n  epochs: 1\n  batch_size: 16\n";
  const auto [rc, out] = electra::test::run_electra_merged(
      "--threads 1 finetune --config " + (root / "exp.yaml").string() + " --output-dir " + (root / "run").string());
  INFO(out);
  REQUIRE(rc == 0);
  const json config = json::parse(electra::read_file(root / "run" / "best" / "config.json"));
  CHECK(config["model_type"] == "bert");
  CHECK(config["architectures"] == json::array({"BertForSequenceClassification"}));
  electra::LoadReport report;
  const auto tuned = electra::load_pretrained(root / "run" / "best", {}, &report);
  CHECK(report.newly_initialised.empty());
  std::set<std::string> names;
  for (const auto& [name, tensor] : tuned.named_parameters()) names.insert(name);
  CHECK(names.count("bert.pooler.dense.weight") == 1);
  CHECK(names.count("classifier.weight") == 1);
  // The pooler came from the checkpoint and was trained from there, not drawn anew.
  const auto base = weights(model);
  const auto after = weights(root / "run" / "best");
  const double moved =
      (after.at("bert.pooler.dense.weight") - base.at("pooler.dense.weight")).abs().max().item<double>();
  CHECK(moved > 0);
  CHECK(moved < 0.1);
}

TEST_CASE("electra finetune --suite runs every task on the tiny samples and renders the leaderboard", "[finetune]") {
  const fs::path out = fresh_dir("suite");
  const std::string src = electra::source_dir();
  const std::string args = "--threads 1 finetune --suite korean --model " + src + "/examples/tiny-electra --data-dir " +
                           src + "/tests/fixtures/tasks --output-dir " + out.string() +
                           " --set data.max_seq_length=64 --set train.epochs=1 --set data.doc_stride=32"
                           " --set data.max_query_length=16 --set device=cpu";
  const auto first = electra::test::run_electra(args);
  INFO(first.output);
  REQUIRE(first.status == 0);
  for (const std::string task : {"nsmc", "naver-ner", "paws", "kornli", "korsts", "question-pair", "korquad",
                                 "hate-speech"}) {
    INFO(task);
    CHECK(fs::exists(out / task / "results.json"));
  }
  const std::string table = electra::read_file(out / "leaderboard_korean.md");
  CHECK(table.find("tiny-electra") != std::string::npos);
  CHECK(table.find("TUNiB-Electra-ko-en-small") != std::string::npos);
  // A rerun skips the finished tasks.
  const auto second = electra::test::run_electra(args);
  REQUIRE(second.status == 0);
  const std::string log = second.output;
  CHECK(log.find("nsmc: already finished") != std::string::npos);
}

TEST_CASE("train.dump_batches writes the initial weights, the features and each step's batches", "[finetune]") {
  const fs::path root = fresh_dir("dump_batches");
  write_marker_data(root / "data", 60, 20);
  electra::RunControl control;
  control.model_dir = make_tiny_model(root);
  std::ostringstream log;
  control.log = &log;
  auto options = marker_options(root / "data", root / "run");
  options.data.dev_from_train = 0;
  options.train.epochs = 2;
  options.train.batch_size = 16;
  options.train.gradient_accumulation_steps = 2;
  options.train.dump_batches = true;
  const auto before = weights(control.model_dir);
  electra::run_experiment(electra::find_task(options.task), options, control);
  const fs::path run = root / "run";
  // initial/: the model at step 0 (the encoder as loaded; the new head included).
  const auto initial = weights(run / "initial");
  CHECK(initial.count("classifier.out_proj.weight") == 1);
  for (const auto& [name, tensor] : before) {  // the bare encoder's names, under `electra.` in the head model
    INFO(name);
    REQUIRE(initial.count("electra." + name) == 1);
    CHECK(at::equal(tensor, initial.at("electra." + name)));
  }
  // features_train.jsonl: one line per training feature; features_test.jsonl: the scored split.
  std::istringstream features(electra::read_file(run / "features_train.jsonl"));
  std::string line;
  int n_features = 0;
  while (std::getline(features, line)) {
    const json f = json::parse(line);
    CHECK(f["input_ids"].size() == f["token_type_ids"].size());
    ++n_features;
  }
  CHECK(n_features == 60);
  CHECK(fs::exists(run / "features_test.jsonl"));
  // batches.jsonl: steps 1..8 (2 epochs of 4), two micro-batches of 8 (the last step's: 4 + 4 rows)
  // covering every feature once per epoch, the lr logged for the step, padded to a multiple of 8.
  std::istringstream batches(electra::read_file(run / "batches.jsonl"));
  int step = 0;
  std::map<int64_t, std::vector<int64_t>> seen;
  while (std::getline(batches, line)) {
    const json b = json::parse(line);
    CHECK(b["step"] == ++step);
    REQUIRE(b["micro_batches"].size() == 2);
    for (const auto& m : b["micro_batches"]) {
      CHECK(m["length"].get<int64_t>() % 8 == 0);
      for (const auto& i : m["feature_indices"]) seen[b["epoch"].get<int64_t>()].push_back(i.get<int64_t>());
    }
  }
  CHECK(step == 8);
  for (auto& [epoch, indices] : seen) {
    std::sort(indices.begin(), indices.end());
    CHECK(indices.size() == 60);
    CHECK(std::adjacent_find(indices.begin(), indices.end()) == indices.end());
  }
}
