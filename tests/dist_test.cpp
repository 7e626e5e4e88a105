#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "architectures/electra_model.h"
#include "common/files.h"
#include "dist/communicator.h"
#include "dist/environment.h"
#include "tasks/task.h"
#include "tests/catch.h"
#include "tests/model_support.h"
#include "tokenizer/tokenizer.h"
#include "train/batcher.h"
#include "train/evaluation.h"
#include "train/optimizer.h"
#include "train/step.h"
#include "train/task_data.h"
#include "common/source_dir.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using electra::test::contains;

namespace {

const fs::path kTinyModel = fs::path(electra::source_dir()) / "examples" / "tiny-electra";

std::function<const char*(const char*)> env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

// Runs `body(rank)` on `world` threads, each joined to one group on a free local port; rethrows the first error.
void on_ranks(int world, const std::function<void(int, electra::Communicator&)>& body) {
  const int port = electra::free_local_port();
  std::vector<std::exception_ptr> errors(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        electra::DistEnv env;
        env.rank = env.local_rank = r;
        env.world_size = env.local_world_size = world;
        env.master_port = port;
        electra::DistOptions options;
        options.timeout_s = 30;
        auto comm = electra::connect(env, options, false);
        body(r, *comm);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Over the parameters both have.
double max_abs_diff(const electra::ElectraModel& a, const electra::ElectraModel& b) {
  double worst = 0;
  std::map<std::string, at::Tensor> pb;
  for (const auto& [name, t] : b.named_parameters()) pb[name] = t;
  for (const auto& [name, t] : a.named_parameters()) {
    if (pb.count(name)) worst = std::max(worst, (t - pb.at(name)).abs().max().item<double>());
  }
  return worst;
}

// The marker-word task of finetune_test in NSMC's format: `train_rows` training and `test_rows` test reviews.
void write_marker_data(const fs::path& dir, int train_rows, int test_rows) {
  fs::create_directories(dir);
  std::mt19937 rng(99);
  const std::vector<std::string> words{"좋다", "최고", "별로", "지루", "영화", "배우", "스토리", "음악"};
  auto write = [&](const fs::path& file, int rows, int first_id) {
    std::ofstream out(file);
    out << "id\tdocument\tlabel\n";
    for (int i = 0; i < rows; ++i) {
      const int label = static_cast<int>(rng() % 2);
      std::string text = label == 1 ? "좋다" : "별로";
      for (int w = 0; w < 3 + static_cast<int>(rng() % 9); ++w) text += " " + words[rng() % words.size()];
      out << first_id + i << '\t' << text << '\t' << label << '\n';
    }
  };
  write(dir / "ratings_train.txt", train_rows, 1000);
  write(dir / "ratings_test.txt", test_rows, 9000);
}

// The shipped tiny model with dropout off (ranks draw different dropout masks).
fs::path tiny_model_without_dropout(const fs::path& dir) {
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(kTinyModel)) fs::copy(entry.path(), dir / entry.path().filename());
  json config = json::parse(electra::read_file(kTinyModel / "config.json"));
  config["hidden_dropout_prob"] = 0.0;
  config["attention_probs_dropout_prob"] = 0.0;
  std::ofstream(dir / "config.json") << config.dump(2) << "\n";
  return dir;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST_CASE("dist environment is read from torchrun's and Slurm's variables", "[dist]") {
  SECTION("none: one process") {
    const auto env = electra::read_dist_env(env_of({}));
    CHECK(env.world_size == 1);
    CHECK_FALSE(env.distributed());
    CHECK(env.launcher == "none");
  }
  SECTION("torchrun") {
    const auto env = electra::read_dist_env(env_of({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                                    {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node7"},
                                                    {"MASTER_PORT", "29400"}}));
    CHECK(env.launcher == "torchrun");
    CHECK(env.rank == 3);
    CHECK(env.world_size == 8);
    CHECK(env.local_rank == 1);
    CHECK(env.local_world_size == 2);
    CHECK(env.master_addr == "node7");
    CHECK(env.master_port == 29400);
    CHECK_FALSE(env.agent_store);
    CHECK(electra::read_dist_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}}))
              .agent_store);
  }
  SECTION("Slurm: master is the first host of the job") {
    const auto env = electra::read_dist_env(env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"},
                                                    {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                                                    {"SLURM_JOB_NODELIST", "gpu[07-08,10],cpu1"},
                                                    {"SLURM_JOB_ID", "123456"}}));
    CHECK(env.launcher == "slurm");
    CHECK(env.rank == 5);
    CHECK(env.world_size == 8);
    CHECK(env.local_rank == 1);
    CHECK(env.local_world_size == 4);
    CHECK(env.master_addr == "gpu07");
    CHECK(env.master_port == 20000 + 123456 % 20000);
  }
  SECTION("host lists") {
    using V = std::vector<std::string>;
    CHECK(electra::expand_nodelist("n1") == V{"n1"});
    CHECK(electra::expand_nodelist("gpu[07-09,12],cpu5") == V{"gpu07", "gpu08", "gpu09", "gpu12", "cpu5"});
    CHECK(electra::expand_nodelist("a[1-2]-ib,b") == V{"a1-ib", "a2-ib", "b"});
    CHECK(electra::expand_nodelist("x[8-11]") == V{"x8", "x9", "x10", "x11"});
    CHECK_THROWS_AS(electra::expand_nodelist("gpu[1-"), std::invalid_argument);
  }
  SECTION("bad values are named") {
    try {
      electra::read_dist_env(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}));
      FAIL("no error");
    } catch (const std::invalid_argument& e) {
      CHECK(contains(e.what(), "rank 2 is not below the world size 2"));
    }
    CHECK_THROWS_AS(electra::read_dist_env(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})), std::invalid_argument);
    CHECK_THROWS_AS(electra::read_dist_env(env_of({{"WORLD_SIZE", "2"}})), std::invalid_argument);
  }
}

TEST_CASE("dist --shard covers every (task, seed) exactly once over N shares", "[dist]") {
  for (size_t count = 0; count < 20; ++count) {
    for (int shares = 1; shares <= 7; ++shares) {
      std::vector<int> seen(count, 0);
      for (int i = 0; i < shares; ++i) {
        for (const size_t p : electra::share_of(count, i, shares)) ++seen.at(p);
      }
      for (const int s : seen) CHECK(s == 1);
    }
  }
  CHECK(electra::parse_shard("2/5") == std::pair<int, int>{2, 5});
  for (const std::string bad : {"5/5", "1", "a/2", "-1/2", "1/0", ""}) {
    CHECK_THROWS_AS(electra::parse_shard(bad), std::invalid_argument);
  }

  // The command: every (task, seed) pair of the suite in exactly one share, for several N.
  const fs::path root = electra::test::fresh_dir("dist_shard");
  auto pairs_of = [&](const std::string& shard) {
    const auto r = electra::test::run_electra(fmt::format(
        "finetune --suite korean --model {} --data-dir {} --output-dir {} --seeds 1,2,3 --shard {} --dump-config",
        q(kTinyModel), q(root / "data"), q(root / "out"), shard));
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::multiset<std::string> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# shard ", 0) == 0) out.insert(line.substr(line.find(": task ") + 2));
    }
    return out;
  };
  const auto all = pairs_of("0/1");
  CHECK(all.size() == 8 * 3);  // the 8 Korean tasks, 3 seeds each
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == all.size());
  for (const int n : {3}) {
    std::multiset<std::string> union_of_shares;
    for (int i = 0; i < n; ++i) {
      for (const auto& p : pairs_of(fmt::format("{}/{}", i, n))) union_of_shares.insert(p);
    }
    CHECK(union_of_shares == all);
  }
  SECTION("--emit slurm: a job array of one task per pair, each running its --shard") {
    const auto r = electra::test::run_electra(fmt::format(
        "finetune --suite korean --model {} --data-dir {} --output-dir {} --seeds 1,2,3 --set train.batch_size=16 "
        "--emit slurm",
        q(kTinyModel), q(root / "data"), q(root / "out")));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "#SBATCH --array=0-23\n"));
    CHECK(contains(r.out, "--shard \"${SLURM_ARRAY_TASK_ID}/24\""));
    CHECK(contains(r.out, "--set 'train.batch_size=16'"));
    // Stopped two minutes before the time limit, the run saves its state; the task is requeued on exit code 75.
    CHECK(contains(r.out, "#SBATCH --signal=B:USR1@120\n#SBATCH --requeue\n"));
    CHECK(contains(r.out, "if [ \"$rc\" -eq 75 ]; then\n  scontrol requeue"));
    std::ofstream(root / "job.sh") << r.out;
    // The script's command, as array task 5 runs it (with --dump-config added: print, do not train).
    const auto run = electra::test::run_command(fmt::format(
        "sed 's/ &$/ --dump-config \\&/' {} > {} && SLURM_ARRAY_TASK_ID=5 bash {}", q(root / "job.sh"),
        q(root / "job_dump.sh"), q(root / "job_dump.sh")));
    INFO(run.output);
    CHECK(run.status == 0);
    CHECK(contains(run.out, "# shard 5/24: task "));
    CHECK(contains(run.out, "batch_size: 16"));
  }
  const auto [status, output] = electra::test::run_electra_merged(
      fmt::format("finetune --config configs/korean/nsmc.yaml --shard 0/2 --dump-config"));
  CHECK(status != 0);
  CHECK(contains(output, "--shard I/N needs --suite"));
}

TEST_CASE("dist step on 2 ranks makes the update of one process (token-level loss mean)", "[dist]") {
  // Token classification: the loss is a mean over labelled tokens, which the ranks hold unevenly.
  const int64_t vocab = 40;
  auto make = [&] {
    at::manual_seed(7);
    return electra::ElectraModel(electra::test::tiny_config(vocab, electra::Architecture::token_classification, 3));
  };
  std::mt19937 rng(5);
  std::vector<electra::Feature> features(9);
  for (auto& f : features) {
    const int len = 3 + static_cast<int>(rng() % 10);
    for (int t = 0; t < len; ++t) {
      f.input_ids.push_back(5 + static_cast<int64_t>(rng() % (vocab - 5)));
      f.token_type_ids.push_back(0);
      f.token_labels.push_back(rng() % 3 == 0 ? -100 : static_cast<int64_t>(rng() % 3));
    }
  }
  const std::vector<int64_t> all{0, 1, 2, 3, 4, 5, 6, 7, 8};
  const auto micro = electra::chunk(all, 5);  // two micro-batches: 5 and 4 rows
  electra::OptimizerOptions oo;
  oo.learning_rate = 1e-3;
  oo.weight_decay = 0.01;
  const auto head = electra::HeadKind::token_classification;

  electra::ElectraModel one = make();
  {
    electra::AdamW opt(one, oo);
    electra::TrainStep step(one, opt, 0.5, false);
    for (int s = 0; s < 3; ++s) {
      std::vector<electra::Batch> batches;
      for (const auto& m : micro) batches.push_back(electra::collate(features, m, head, 8, 64, true));
      REQUIRE(step.run(batches, oo.learning_rate).finite);
    }
  }
  std::vector<electra::ElectraModel> ranks;
  ranks.push_back(make());
  ranks.push_back(make());
  std::vector<double> losses(2);
  std::vector<int64_t> early(2);
  on_ranks(2, [&](int r, electra::Communicator& comm) {
    electra::AdamW opt(ranks[r], oo);
    electra::TrainStep step(ranks[r], opt, 0.5, false, &comm);
    for (int s = 0; s < 3; ++s) {
      std::vector<electra::Batch> batches;
      for (const auto& m : micro) batches.push_back(electra::collate_share(features, m, head, 8, 64, r, 2));
      const auto result = step.run(batches, oo.learning_rate);
      if (!result.finite) throw std::runtime_error("non-finite loss");
      losses[r] = result.loss;
      early[r] = result.buckets_started_in_backward;
    }
  });
  CHECK(losses[0] == losses[1]);
  CHECK(early == std::vector<int64_t>{1, 1});  // the one bucket's sum started from the accumulators' hooks
  CHECK(max_abs_diff(ranks[0], ranks[1]) == 0.0);
  const double diff = max_abs_diff(one, ranks[0]);
  WARN("token classification, 3 steps: max |W=1 - W=2| = " << diff);
  CHECK(diff <= 1e-5);
  CHECK(max_abs_diff(one, make()) > 1e-3);  // the steps did change the weights
}

TEST_CASE("dist sharded evaluation runs every feature exactly once (odd sizes)", "[dist]") {
  const electra::Task& task = electra::find_task("nsmc");
  const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kTinyModel);
  for (const int size : {1, 7, 13}) {
    std::vector<electra::Example> examples(size);
    for (int i = 0; i < size; ++i) {
      examples[i].id = std::to_string(i);
      examples[i].text_a = std::string(static_cast<size_t>(1 + (i * 7) % 11), 'a') + " 영화 좋다";
      examples[i].label = std::to_string(i % 2);
    }
    electra::DatasetOptions data;
    data.max_seq_length = 32;
    const auto features = electra::featurize(task, examples, tokenizer, data);
    auto load = [&] {
      at::manual_seed(3);
      return electra::load_pretrained(kTinyModel, electra::load_options_for(task));
    };
    electra::EvalOptions eo;
    eo.batch_size = 2;
    eo.bucket_multiple = 8;
    const electra::ElectraModel single = load();
    const auto expected = electra::evaluate(single, task, examples, features, eo);
    CHECK(expected.features_run_here == size);
    std::vector<electra::ElectraModel> models;
    models.push_back(load());
    models.push_back(load());
    std::vector<electra::EvalResult> results(2);
    on_ranks(2, [&](int r, electra::Communicator& comm) {
      electra::EvalOptions o = eo;
      o.comm = &comm;
      results[r] = electra::evaluate(models[r], task, examples, features, o);
    });
    INFO("examples: " << size);
    CHECK(results[0].features_run_here + results[1].features_run_here == size);
    CHECK(results[0].features_run_here == (size + 1) / 2);
    for (const auto& r : results) {
      CHECK(r.predictions == expected.predictions);
      CHECK(r.metrics == expected.metrics);
    }
  }
}

TEST_CASE("dist finetune --nproc 2 ends with the weights of one process; rank 0 alone writes", "[dist]") {
  const fs::path root = electra::test::fresh_dir("dist_nproc");
  write_marker_data(root / "data", 141, 33);
  const fs::path model = tiny_model_without_dropout(root / "model");
  {
    std::ofstream(root / "config.yaml") << "task: nsmc\n"
                                           "data: {max_seq_length: 32, bucket_multiple: 8, dev_from_train: 0.1}\n"
                                           "optimizer: {learning_rate: 1e-3, weight_decay: 0.01}\n"
                                           "train: {max_steps: 20, batch_size: 14, gradient_accumulation_steps: 2,\n"
                                           "        eval_every: 10, select_best: false, logging_every: 5,\n"
                                           "        save_every: 5, eval_batch_size: 5}\n";
  }
  auto finetune = [&](const std::string& out, const std::string& extra) {
    return electra::test::run_electra(fmt::format("finetune --config {} --model {} --data-dir {} --output-dir {} {}",
                                                  q(root / "config.yaml"), q(model), q(root / "data"),
                                                  q(root / out), extra));
  };
  const auto one = finetune("w1", "");
  INFO(one.output);
  REQUIRE(one.status == 0);
  const auto two = finetune("w2", "--nproc 2 --dist-timeout 60");
  INFO(two.output);
  REQUIRE(two.status == 0);

  const auto a = electra::load_pretrained(root / "w1" / "best");
  const auto b = electra::load_pretrained(root / "w2" / "best");
  const double diff = max_abs_diff(a, b);
  WARN("nsmc, 20 steps of a global batch of 14: max |W=1 - W=2| = " << diff);
  CHECK(diff <= 1e-5);
  at::manual_seed(42);  // the run's seed: its initial model
  CHECK(max_abs_diff(a, electra::load_pretrained(model, electra::load_options_for(electra::find_task("nsmc")))) > 1e-4);

  // One writer: the same files as one process, each line once; one summary line printed.
  auto files = [](const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const std::string name = fs::relative(e.path(), dir).string();
      out.insert(name.rfind("state/state-", 0) == 0 ? "state/state-*" : name);  // named by a content hash
    }
    return out;
  };
  CHECK(files(root / "w1") == files(root / "w2"));
  CHECK(files(root / "w2").count("state/state-*") == 1);
  const std::string m1 = electra::read_file(root / "w1" / "metrics.jsonl");
  const std::string m2 = electra::read_file(root / "w2" / "metrics.jsonl");
  CHECK(std::count(m1.begin(), m1.end(), '\n') == std::count(m2.begin(), m2.end(), '\n'));
  CHECK(electra::read_file(root / "w1" / "predictions_test.txt") ==
        electra::read_file(root / "w2" / "predictions_test.txt"));
  const json r1 = json::parse(electra::read_file(root / "w1" / "results.json"));
  const json r2 = json::parse(electra::read_file(root / "w2" / "results.json"));
  CHECK(r2["world_size"] == 2);
  CHECK(r1["world_size"] == 1);
  CHECK(r1["metrics"] == r2["metrics"]);
  auto count = [](const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t p = text.find(part); p != std::string::npos; p = text.find(part, p + 1)) ++n;
    return n;
  };
  CHECK(count(two.out, "test accuracy") == 1);
  CHECK(count(two.err, "task nsmc:") == 1);
  CHECK(contains(two.err, "2 ranks (gloo), global batch 14"));
}

TEST_CASE("dist a killed rank ends the others inside the timeout; the run resumes on another world size", "[dist]") {
  const fs::path root = electra::test::fresh_dir("dist_kill");
  write_marker_data(root / "data", 101, 21);
  {
    std::ofstream(root / "config.yaml") << "task: nsmc\n"
                                           "data: {max_seq_length: 32, bucket_multiple: 8}\n"
                                           "train: {max_steps: 30, batch_size: 8, logging_every: 5, save_every: 2}\n";
  }
  const std::string common = fmt::format("finetune --config {} --model {} --data-dir {} --output-dir {}",
                                         q(root / "config.yaml"), q(kTinyModel), q(root / "data"), q(root / "run"));
  const auto start = std::chrono::steady_clock::now();
  const auto r = electra::test::run_command(
      fmt::format("ELECTRA_CRASH_AT=rank1.step:5 '{}' {} --nproc 2 --dist-timeout 20", electra::test::electra_binary(), common));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(r.output);
  CHECK(r.status != 0);
  CHECK(seconds < 20);
  CHECK(contains(r.err, "rank 1 of 2"));
  CHECK(contains(r.err, "killed by signal 9"));
  // Rank 0 learns it in the next collective: the step's gradient sum, or the stop-signal check after the step.
  CHECK((contains(r.err, "rank 0 of 2: the gradient all-reduce failed") ||
         contains(r.err, "rank 0 of 2: the stop-signal check failed")));
  REQUIRE(fs::exists(root / "run" / "state" / "latest.json"));

  // The last checkpoint (step 4) loads, on one process.
  const auto resumed = electra::test::run_electra(fmt::format("finetune --resume {}", q(root / "run")));
  INFO(resumed.output);
  CHECK(resumed.status == 0);
  CHECK(contains(resumed.err, "resuming"));
  CHECK(contains(resumed.err, "at step 4"));
  CHECK(json::parse(electra::read_file(root / "run" / "results.json"))["steps"] == 30);
}

TEST_CASE("dist a peer that never shows up ends the rank inside the timeout", "[dist]") {
  const fs::path root = electra::test::fresh_dir("dist_alone");
  write_marker_data(root / "data", 20, 5);
  std::ofstream(root / "config.yaml") << "task: nsmc\ntrain: {max_steps: 2, batch_size: 4}\n";
  const auto start = std::chrono::steady_clock::now();
  const auto r = electra::test::run_command(fmt::format(
      "RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT={} '{}' finetune --config {} --model {} --data-dir {} "
      "--output-dir {} --dist-timeout 2",
      electra::free_local_port(), electra::test::electra_binary(), q(root / "config.yaml"), q(kTinyModel), q(root / "data"),
      q(root / "run")));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(r.output);
  CHECK(r.status != 0);
  CHECK(seconds < 15);
  CHECK(contains(r.err, "rank 0 of 2: the process group did not form within 2 s"));
}
