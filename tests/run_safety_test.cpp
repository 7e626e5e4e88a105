// Run directories under crashes, full disks and reruns (docs/reliability.md): the real `electra` binary, killed at
// the crash points of common/crash_point.h and at random moments, resumed, and compared byte for byte with an
// uninterrupted run of the shipped tiny model on the shipped NSMC sample.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>

#include "common/files.h"
#include "tasks/task.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "train/run_dir.h"
#include "train/task_data.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using electra::test::contains;
using electra::test::run_command;
using nlohmann::json;

namespace {

const std::string kSource = electra::source_dir();

// 540 train rows after a 10% carve-out, batches of 32: 17 steps; a state every 3 steps, dev every 5.
void write_config(const fs::path& file) {
  std::ofstream(file) << "model: " << kSource << "/examples/tiny-electra\ntask: nsmc\ndevice: cpu\n"
                      << "data:\n  data_dir: " << kSource << "/examples/data/nsmc\n  max_seq_length: 64\n"
                      << "  bucket_multiple: 16\n  dev_from_train: 0.1\noptimizer:\n  learning_rate: 1e-3\n"
                      << "train:\n  epochs: 1\n  batch_size: 32\n  eval_every: 5\n  logging_every: 2\n"
                      << "  save_every: 3\n";
}

// `electra finetune` on `run` with `env` (VAR=value ...) in front: a fresh run when it holds no training state yet,
// else --resume.
electra::test::CommandResult finetune(const fs::path& config, const fs::path& run, const std::string& env = "",
                                      const std::string& extra = "") {
  const bool resume = fs::exists(electra::RunDirectory(run).state_file());
  const std::string what = resume ? fmt::format("--resume '{}'", run.string())
                                  : fmt::format("--config '{}' --output-dir '{}'", config.string(), run.string());
  return run_command(fmt::format("{} '{}' --threads 1 finetune {} {}", env, electra::test::electra_binary(), what, extra));
}

// Resumes (or restarts, before the first state) until results.json is there.
void run_to_end(const fs::path& config, const fs::path& run) {
  for (int attempt = 0; attempt < 3 && !fs::exists(run / "results.json"); ++attempt) {
    const auto r = finetune(config, run);
    INFO(r.output);
    REQUIRE(r.status == 0);
  }
  REQUIRE(fs::exists(run / "results.json"));
}

// What must not depend on interruptions: the selected weights, the predictions and the scores.
struct RunResult {
  std::string weights, predictions;
  json metrics, split_metrics, best_step, steps;
};

RunResult result_of(const fs::path& run) {
  const json r = json::parse(electra::read_file(run / "results.json"));
  return {electra::read_file(run / "best" / "model.safetensors"), electra::read_file(run / "predictions_test.txt"),
          r["metrics"], r["split_metrics"], r["best_step"], r["steps"]};
}

void check_same(const RunResult& a, const RunResult& b) {
  CHECK(a.weights.size() == b.weights.size());
  CHECK(a.weights == b.weights);
  CHECK(a.predictions == b.predictions);
  CHECK(a.metrics == b.metrics);
  CHECK(a.split_metrics == b.split_metrics);
  CHECK(a.best_step == b.best_step);
  CHECK(a.steps == b.steps);
}

// The uninterrupted run, made once per test process.
struct Reference {
  fs::path root, config, run;
  RunResult result;
};

const Reference& reference() {
  static const Reference ref = [] {
    Reference r;
    r.root = electra::test::fresh_dir("run_safety");
    r.config = r.root / "exp.yaml";
    write_config(r.config);
    r.run = r.root / "reference";
    const auto out = finetune(r.config, r.run);
    if (out.status != 0) throw std::runtime_error("reference run failed:\n" + out.output);
    r.result = result_of(r.run);
    return r;
  }();
  return ref;
}

// A fresh run of the reference experiment in ref.root/name, stopped after 6 steps with its state saved.
fs::path stopped_run(const Reference& ref, const std::string& name) {
  const fs::path run = ref.root / name;
  electra::remove_tree(run);
  const auto stopped = finetune(ref.config, run, "", "--stop-after 6");
  INFO(stopped.output);
  REQUIRE(stopped.status == 0);
  return run;
}

// Every file below `dir` with its content.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& f : electra::list_files_recursive(dir)) files[fs::relative(f, dir).string()] = electra::read_file(f);
  return files;
}

std::string latest_state_file(const fs::path& run) {
  return json::parse(electra::read_file(electra::RunDirectory(run).state_file()))["file"].get<std::string>();
}

}  // namespace

TEST_CASE("finetune killed at a crash point resumes from the last complete state to the same weights", "[safety]") {
  const Reference& ref = reference();
  // Each point inside a checkpoint write or between the writes of a run's end; the count picks a write mid-run.
  for (const std::string point : {"state.data.partial:2", "state.data.renamed:3", "state.manifest.partial:2",
                                  "state.manifest.renamed:4", "state.committed:1", "best.saved:1", "results.before"}) {
    DYNAMIC_SECTION(point) {
      const fs::path run = ref.root / ("crash-" + point.substr(0, point.find(':')));
      electra::remove_tree(run);
      const auto killed = finetune(ref.config, run, "ELECTRA_CRASH_AT=" + point);
      INFO(killed.output);
      REQUIRE(killed.status != 0);
      REQUIRE(contains(killed.err, "crash point " + point));
      CHECK_FALSE(fs::exists(run / "results.json"));
      run_to_end(ref.config, run);
      check_same(ref.result, result_of(run));
      // Replaced states and temporary files are gone.
      int files = 0;
      for (const auto& f : electra::list_directory(run / "state")) {
        INFO(f.string());
        CHECK(f.filename().string().find(".tmp.") == std::string::npos);
        ++files;
      }
      CHECK(files == 2);
    }
  }
}

TEST_CASE("finetune killed with SIGKILL at random moments resumes to the same weights", "[safety]") {
  const Reference& ref = reference();
  std::mt19937 rng(20261202);
  // tools/checks/crash_resume_bench.sh runs 20 such points; two here keep `make test` short.
  for (int i = 0; i < 2; ++i) {
    const fs::path run = ref.root / fmt::format("kill-{}", i);
    electra::remove_tree(run);
    const double seconds = 0.5 + std::uniform_real_distribution<double>(0.0, 3.0)(rng);
    const auto killed = finetune(ref.config, run, fmt::format("timeout -s KILL {:.2f}", seconds));
    INFO("killed after " << seconds << " s: " << killed.output);
    run_to_end(ref.config, run);
    check_same(ref.result, result_of(run));
  }
}

TEST_CASE("a training state cut short or damaged is refused, never loaded", "[safety]") {
  const Reference& ref = reference();
  const fs::path run = stopped_run(ref, "cut");
  const fs::path state = run / "state" / latest_state_file(run);
  const std::string bytes = electra::read_file(state);
  SECTION("cut short") {
    electra::write_file_atomic(state, bytes.substr(0, bytes.size() / 2));
    const auto r = finetune(ref.config, run);
    CHECK(r.status != 0);
    CHECK(contains(r.err, state.string()));
    CHECK(contains(r.err, "incomplete"));
    CHECK_FALSE(contains(r.err, "resuming"));
  }
  SECTION("same size, one byte changed") {
    std::string damaged = bytes;
    damaged[damaged.size() / 2] ^= 0x5a;
    electra::write_file_atomic(state, damaged);
    const auto r = finetune(ref.config, run);
    CHECK(r.status != 0);
    CHECK(contains(r.err, state.string()));
    CHECK(contains(r.err, "sha256"));
  }
  SECTION("intact: resumes") {
    run_to_end(ref.config, run);
    check_same(ref.result, result_of(run));
  }
}

TEST_CASE("a checkpoint that cannot be written fails the run and keeps the previous state the latest", "[safety]") {
  const Reference& ref = reference();
  const fs::path run = stopped_run(ref, "efbig");
  const std::string committed = electra::read_file(electra::RunDirectory(run).state_file());
  // A file-size limit of 1.5 MB (dash counts 512-byte blocks): best/ (1.3 MB) fits, a training state (4 MB) does
  // not, and write() fails with EFBIG once SIGXFSZ is ignored, as a full disk fails with ENOSPC.
  const auto r = run_command(fmt::format("trap '' XFSZ; ulimit -f 3000; '{}' --threads 1 finetune --resume '{}'",
                                         electra::test::electra_binary(), run.string()));
  INFO(r.output);
  CHECK(r.status != 0);
  CHECK(contains(r.err, "electra: error: cannot write"));
  CHECK(contains(r.err, "File too large"));
  CHECK(contains(r.err, (run / "state").string()));
  CHECK(electra::read_file(electra::RunDirectory(run).state_file()) == committed);
  for (const auto& f : electra::list_directory(run / "state")) {
    INFO(f.string());
    CHECK(f.filename().string().find(".tmp.") == std::string::npos);
  }
  run_to_end(ref.config, run);
  check_same(ref.result, result_of(run));
}

TEST_CASE("finetune refuses an output folder it cannot use before training", "[safety]") {
  const electra::test::TempDir tmp("safety_output");
  SECTION("not a folder") {
    std::ofstream(tmp.path / "file") << "x";
    electra::RunDirectory dir(tmp.path / "file" / "run");
    try {
      dir.open(electra::ExperimentOptions{}, false);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), (tmp.path / "file" / "run").string()));
      CHECK(contains(e.what(), "choose another output_dir"));
    }
  }
  SECTION("obviously too little free space") {
    CHECK_NOTHROW(electra::check_free_space(tmp.path, 1, "a test"));
    try {
      electra::check_free_space(tmp.path, uint64_t{1} << 62, "two training states and the best model");
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), tmp.path.string()));
      CHECK(contains(e.what(), "two training states and the best model"));
      CHECK(contains(e.what(), "free"));
    }
  }
  SECTION("writable") { CHECK_NOTHROW(electra::check_writable(tmp.path)); }
  SECTION("a resumed run needs only the room it does not hold yet") {
    // A state of 60 % of the free space: a fresh run (two states and the weights twice) does not fit; a run that
    // already holds its state and best model (sparse files here: their size, not their blocks) does.
    const uint64_t free = electra::available_bytes(tmp.path);
    const uint64_t state = free / 10 * 6;
    electra::RunDirectory run(tmp.path / "run");
    fs::create_directories(run.state_dir());
    CHECK_THROWS_AS(run.check_space(state, "the best model"), std::runtime_error);
    fs::create_directories(run.best_dir());
    const auto sparse = [](const fs::path& file, uint64_t size) {
      std::ofstream(file).close();
      fs::resize_file(file, size);
    };
    sparse(run.state_dir() / "state-00000003-0.pt", state);
    sparse(run.best_dir() / "model.safetensors", state / 3);
    CHECK_NOTHROW(run.check_space(state, "the best model"));
  }
}

TEST_CASE("finetune --resume of a finished run says so and changes nothing", "[safety]") {
  const Reference& ref = reference();
  const auto before = snapshot(ref.run);
  const auto r = finetune(ref.config, ref.run);
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(contains(r.err, "is finished"));
  CHECK(contains(r.err, "nothing changed"));
  CHECK(snapshot(ref.run) == before);
  SECTION("an experiment of several seeds, once its summary.json is there") {
    const fs::path experiment = ref.root / "seeds";
    electra::remove_tree(experiment);
    const auto first = finetune(ref.config, experiment, "", "--set 'seeds=[1, 2]' --set train.max_steps=4");
    INFO(first.output);
    REQUIRE(first.status == 0);
    REQUIRE(fs::exists(experiment / "summary.json"));
    const auto files = snapshot(experiment);
    const auto again = run_command(fmt::format("'{}' --threads 1 finetune --resume '{}'", electra::test::electra_binary(),
                                               experiment.string()));
    INFO(again.output);
    CHECK(again.status == 0);
    CHECK(contains(again.err, "summary.json over 2 seeds"));
    CHECK(snapshot(experiment) == files);
  }
}

TEST_CASE("electra eval refuses to write into a training run's folder", "[safety]") {
  const Reference& ref = reference();
  const auto before = snapshot(ref.run);
  const std::string eval = fmt::format("'{}' --threads 1 eval --model '{}' --task nsmc --split test --data-dir '{}' "
                                       "--max-seq-length 64 --output-dir ",
                                       electra::test::electra_binary(), (ref.run / "best").string(), kSource + "/examples/data/nsmc");
  const auto refused = run_command(eval + "'" + ref.run.string() + "'");
  INFO(refused.output);
  CHECK(refused.status != 0);
  CHECK(contains(refused.err, "holds a fine-tuning run"));
  CHECK(contains(refused.err, (ref.run / "state").string()));
  CHECK(contains(refused.err, (ref.run / "eval-nsmc-test").string()));
  CHECK(snapshot(ref.run) == before);
  SECTION("a trainer's results.json alone is enough") {
    const fs::path copy = ref.root / "results-only";
    electra::remove_tree(copy);
    fs::create_directories(copy);
    fs::copy_file(ref.run / "results.json", copy / "results.json");
    const auto r = run_command(eval + "'" + copy.string() + "'");
    CHECK(r.status != 0);
    CHECK(contains(r.err, (copy / "results.json").string()));
  }
  SECTION("an experiment's config.yaml, before its summary.json") {
    const fs::path experiment = ref.root / "experiment";
    electra::remove_tree(experiment);
    fs::create_directories(experiment / "seed-1");
    fs::copy_file(ref.run / "config.yaml", experiment / "config.yaml");
    const auto r = run_command(eval + "'" + experiment.string() + "'");
    CHECK(r.status != 0);
    CHECK(contains(r.err, (experiment / "config.yaml").string()));
  }
  SECTION("the suggested folder beside it works, and a rerun there overwrites eval's own results") {
    const fs::path beside = ref.run / "eval-nsmc-test";
    for (int i = 0; i < 2; ++i) {
      const auto r = run_command(eval + "'" + beside.string() + "'");
      INFO(r.output);
      REQUIRE(r.status == 0);
    }
    const json results = json::parse(electra::read_file(beside / "results.json"));
    CHECK(results["metrics"] == json::parse(electra::read_file(ref.run / "results.json"))["metrics"]);
    electra::remove_tree(beside);
    CHECK(snapshot(ref.run) == before);
  }
}

TEST_CASE("data.max_seq_length beyond the model's positions is fitted with one warning", "[safety]") {
  const Reference& ref = reference();
  const fs::path run = ref.root / "long";
  electra::remove_tree(run);
  const auto r = finetune(ref.config, run, "", "--set data.max_seq_length=100000 --stop-after 1");
  INFO(r.output);
  CHECK(r.status == 0);
  const std::string warning =
      "warning: data.max_seq_length 100000 is longer than the model's max_position_embeddings 64: using 64\n";
  CHECK(contains(r.err, warning));
  CHECK(r.err.find(warning) == r.err.rfind(warning));
  // The run's config keeps what was asked for.
  CHECK(contains(electra::read_file(run / "config.yaml"), "max_seq_length: 100000"));
  electra::DatasetOptions data;
  data.max_seq_length = 64;
  CHECK_FALSE(electra::fit_max_seq_length(data, 64, "data.max_seq_length"));
  CHECK(data.max_seq_length == 64);
}

TEST_CASE("a warm-up as long as the run, and train.save_every 0, are warned about", "[safety]") {
  const Reference& ref = reference();
  const fs::path run = ref.root / "warned";
  electra::remove_tree(run);
  const auto r = finetune(ref.config, run, "", "--set schedule.warmup_steps=100 --set train.save_every=0 --stop-after 2");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(contains(r.output, "warning: the warm-up (100 steps) is not shorter than the run (17 steps)"));
  CHECK(contains(r.output, "warning: train.save_every is 0"));
  const auto quiet = finetune(ref.config, ref.root / "not-warned", "", "--stop-after 2");
  CHECK_FALSE(contains(quiet.output, "warning:"));
}

TEST_CASE("finetune --stop-after 0 is refused before anything is written", "[safety]") {
  const Reference& ref = reference();
  const fs::path run = ref.root / "stop-zero";
  electra::remove_tree(run);
  const auto r = finetune(ref.config, run, "", "--stop-after 0");
  CHECK(r.status != 0);
  CHECK(contains(r.err, "--stop-after: a step number is at least 1, got 0"));
  CHECK_FALSE(fs::exists(run));
}

TEST_CASE("data.max_train_examples keeps the first train examples before the dev carve-out", "[safety]") {
  const electra::test::TempDir tmp("safety_max_train");
  {
    std::ofstream train(tmp.path / "ratings_train.txt");
    train << "id\tdocument\tlabel\n";
    for (int i = 0; i < 10; ++i) train << i << "\treview " << i << "\t" << i % 2 << "\n";
  }
  std::ofstream(tmp.path / "ratings_test.txt") << "id\tdocument\tlabel\n1\tgood\t1\n";
  electra::DatasetOptions data;
  data.data_dir = tmp.path.string();
  const auto& nsmc = electra::find_task("nsmc");
  auto ids = [](const std::vector<electra::Example>& examples) {
    std::vector<std::string> out;
    for (const auto& e : examples) out.push_back(e.id);
    return out;
  };

  data.max_train_examples = 4;
  auto d = electra::load_task_data(nsmc, data);
  CHECK(ids(d.train) == std::vector<std::string>{"0", "1", "2", "3"});
  CHECK(d.train_source == "the first 4 of 10 (data.max_train_examples)");

  data.dev_from_train = 0.25;  // carved from the 4 kept: 1 dev, 3 train, none of them past the 4th
  d = electra::load_task_data(nsmc, data);
  REQUIRE(d.dev.size() == 1);
  REQUIRE(d.train.size() == 3);
  for (const auto& id : ids(d.train)) CHECK(std::stoi(id) < 4);
  CHECK(std::stoi(d.dev[0].id) < 4);

  data.dev_from_train = 0;
  for (const int64_t all : {0, 10, 50}) {  // 0, or at least as many as there are: every example
    data.max_train_examples = all;
    d = electra::load_task_data(nsmc, data);
    CHECK(d.train.size() == 10);
    CHECK(d.train_source == "all 10");
  }

  electra::ExperimentOptions o;
  o.model = "m";
  o.task = "nsmc";
  electra::apply_setting(o, "data.max_train_examples=-1");
  try {
    electra::validate(o);
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(contains(e.what(), "key 'data.max_train_examples' has value -1"));
  }
}

TEST_CASE("a header-only train file with dev_from_train names the file", "[safety]") {
  const electra::test::TempDir tmp("safety_header_only");
  std::ofstream(tmp.path / "ratings_train.txt") << "id\tdocument\tlabel\n";
  std::ofstream(tmp.path / "ratings_test.txt") << "id\tdocument\tlabel\n1\tgood\t1\n";
  electra::DatasetOptions data;
  data.data_dir = tmp.path.string();
  data.dev_from_train = 0.1;
  try {
    electra::load_task_data(electra::find_task("nsmc"), data);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), (tmp.path / "ratings_train.txt").string()));
    CHECK(contains(e.what(), "no training examples"));
  }
}
