// A clean stop on SIGTERM, SIGINT and SIGUSR1 (docs/stopping.md): the real `electra` binary, signalled at a random
// step of a tiny fine-tune and a tiny pre-training, saves its state, says so and exits 75; the same command then
// resumes to the weights and scores of an uninterrupted run, byte for byte.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using electra::test::contains;

namespace {

const fs::path kSource = electra::source_dir();
const fs::path kFixtures = electra::test::fixtures_dir();

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// 540 train rows after the dev carve-out, batches of 32, 3 epochs: 51 steps; a state every 3, a metrics line every 2,
// a dev evaluation (60 examples, 4 batches of 16) at steps 10, 17, 20, 30, 34, 40, 50 and 51.
void write_finetune_config(const fs::path& file) {
  std::ofstream(file) << "model: " << kSource.string() << "/examples/tiny-electra\ntask: nsmc\ndevice: cpu\n"
                      << "data:\n  data_dir: " << kSource.string() << "/examples/data/nsmc\n  max_seq_length: 64\n"
                      << "  dev_from_train: 0.1\noptimizer:\n  learning_rate: 1e-3\n"
                      << "train:\n  epochs: 3\n  batch_size: 32\n  eval_every: 10\n  eval_batch_size: 16\n"
                      << "  logging_every: 2\n"
                      << "  save_every: 3\n";
}

size_t lines_in(const fs::path& file) {
  if (!fs::exists(file)) return 0;
  const std::string text = electra::read_file(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

struct Stopped {
  int status = -1;  // exit code, -1 when killed by a signal
  std::string log;
};

// Starts `electra ARGS` in the background, waits until `progress` (a metrics.jsonl) has `lines` lines, sends `signals`
// (one after the other), and waits for the end.
Stopped run_and_signal(const std::string& args, const fs::path& progress, size_t lines, const std::vector<int>& signals,
                       const fs::path& scratch) {
  fs::create_directories(scratch);
  const fs::path log = scratch / "log", pid_file = scratch / "pid", rc_file = scratch / "rc";
  for (const auto& f : {log, pid_file, rc_file}) fs::remove(f);
  const auto started = electra::test::run_command(fmt::format(
      "( '{}' {} > {} 2>&1 & echo $! > {}; wait $!; echo $? > {}.tmp; mv {}.tmp {} ) > /dev/null 2>&1 &",
      electra::test::electra_binary(), args, q(log), q(pid_file), q(rc_file), q(rc_file), q(rc_file), q(rc_file)));
  REQUIRE(started.status == 0);
  for (int i = 0; i < 12000 && (lines_in(pid_file) == 0 || lines_in(progress) < lines) && !fs::exists(rc_file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(lines_in(pid_file) == 1);
  const pid_t pid = std::stoi(electra::read_file(pid_file));
  for (const int sig : signals) {
    ::kill(pid, sig);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int i = 0; i < 6000 && !fs::exists(rc_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(fs::exists(rc_file));
  const int rc = std::stoi(electra::read_file(rc_file));
  return {rc > 128 ? -1 : rc, electra::read_file(log)};
}

std::string signal_text(int sig) { return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGUSR1"; }

// A run's metrics.jsonl and results.json without the fields that time it (they differ between any two runs).
std::string metrics_without_timing(const fs::path& file) {
  std::string out;
  std::istringstream lines(electra::read_file(file));
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    for (const char* key : {"examples_per_s", "seconds", "tokens_per_second", "data_wait_seconds"}) j.erase(key);
    out += j.dump() + "\n";
  }
  return out;
}

std::string results_without_timing(const fs::path& file) {
  nlohmann::json j = nlohmann::json::parse(electra::read_file(file));
  for (const char* key : {"wall_time_s", "train_time_s", "throughput"}) j.erase(key);
  return j.dump();
}

// The step of the state a run's state/latest.json names, -1 when there is none.
int64_t latest_state_step(const fs::path& run) {
  const fs::path manifest = run / "state" / "latest.json";
  if (!fs::exists(manifest)) return -1;
  const std::string file = nlohmann::json::parse(electra::read_file(manifest)).at("file").get<std::string>();
  return std::stoll(file.substr(std::string("state-").size(), 8));
}

// The N of the line "stopped at step N by ...", -1 when the log has none.
int64_t stopped_step(const std::string& log) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("stopped at step ([0-9]+) by "))) return -1;
  return std::stoll(m[1].str());
}

// The uninterrupted fine-tune, made once per test process.
struct FinetuneReference {
  fs::path root, config;
  std::string weights, predictions, metrics, results;
  std::string command(const fs::path& out, const std::string& extra = "") const {
    return fmt::format("--threads 1 finetune --config {} --output-dir {} {}", q(config), q(out), extra);
  }
};

const FinetuneReference& finetune_reference() {
  static const FinetuneReference ref = [] {
    FinetuneReference r;
    r.root = electra::test::fresh_dir("stop_finetune");
    r.config = r.root / "nsmc.yaml";
    write_finetune_config(r.config);
    const auto out = electra::test::run_electra(r.command(r.root / "whole"));
    if (out.status != 0) throw std::runtime_error("reference run failed:\n" + out.output);
    r.weights = electra::read_file(r.root / "whole" / "best" / "model.safetensors");
    r.predictions = electra::read_file(r.root / "whole" / "predictions_test.txt");
    r.metrics = metrics_without_timing(r.root / "whole" / "metrics.jsonl");
    r.results = results_without_timing(r.root / "whole" / "results.json");
    return r;
  }();
  return ref;
}

// The same fine-tune on 2 ranks (--nproc 2), made once per test process: its weights.
const std::string& finetune_reference_2_ranks() {
  static const std::string weights = [] {
    const FinetuneReference& ref = finetune_reference();
    const auto out = electra::test::run_electra(ref.command(ref.root / "whole2", "--nproc 2"));
    if (out.status != 0) throw std::runtime_error("2-rank reference run failed:\n" + out.output);
    return electra::read_file(ref.root / "whole2" / "best" / "model.safetensors");
  }();
  return weights;
}

// `electra ARGS` with ELECTRA_CRASH_AT=SPEC (common/crash_point.h), under a hang guard.
electra::test::CommandResult run_with_crash_at(const std::string& spec, const std::string& args) {
  return electra::test::run_command(
      fmt::format("ELECTRA_CRASH_AT={} timeout 300 '{}' {}", spec, electra::test::electra_binary(), args));
}

}  // namespace

TEST_CASE("finetune stops cleanly on SIGTERM, SIGINT and SIGUSR1, and the same command resumes", "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  const fs::path& root = ref.root;
  const auto command = [&](const fs::path& out, const std::string& extra = "") { return ref.command(out, extra); };
  const std::string& weights = ref.weights;
  const std::string& predictions = ref.predictions;
  std::mt19937 random(std::random_device{}());
  for (const int sig : {SIGTERM, SIGINT, SIGUSR1}) {
    const fs::path run = root / signal_text(sig);
    const size_t lines = std::uniform_int_distribution<size_t>(1, 12)(random);
    INFO(signal_text(sig) << " after metrics line " << lines);
    const Stopped stopped = run_and_signal(command(run), run / "metrics.jsonl", lines, {sig}, root / "scratch");
    INFO(stopped.log);
    CHECK(stopped.status == 75);
    CHECK(contains(stopped.log, "by " + signal_text(sig) + "; rerun the same command to resume"));
    CHECK_FALSE(fs::exists(run / "results.json"));
    const auto resumed = electra::test::run_electra(command(run));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(contains(resumed.err, "resuming"));
    CHECK(electra::read_file(run / "best" / "model.safetensors") == weights);
    CHECK(electra::read_file(run / "predictions_test.txt") == predictions);
  }
}

TEST_CASE("finetune: Ctrl-C twice stops at once; the last saved state resumes", "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  const fs::path& root = ref.root;
  const auto command = [&](const fs::path& out, const std::string& extra = "") { return ref.command(out, extra); };
  const std::string& weights = ref.weights;
  {
    const fs::path run = root / "twice";
    const Stopped stopped = run_and_signal(command(run), run / "metrics.jsonl", 4, {SIGINT, SIGINT}, root / "scratch");
    INFO(stopped.log);
    CHECK(stopped.status == -1);
    CHECK(contains(stopped.log, "second SIGINT: stopping at once"));
    const auto resumed = electra::test::run_electra(command(run));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(electra::read_file(run / "best" / "model.safetensors") == weights);
  }
}

TEST_CASE("finetune: the same command with other options is refused, naming each key that differs", "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  const fs::path& root = ref.root;
  const auto command = [&](const fs::path& out, const std::string& extra = "") { return ref.command(out, extra); };
  {
    const fs::path run = root / "other";
    const Stopped stopped = run_and_signal(command(run), run / "metrics.jsonl", 2, {SIGTERM}, root / "scratch");
    REQUIRE(stopped.status == 75);
    const auto other = electra::test::run_electra(command(run, "--set optimizer.learning_rate=2e-3"));
    CHECK(other.status != 0);
    CHECK(contains(other.err, "holds a saved run of other options"));
    CHECK(contains(other.err, "optimizer.learning_rate: 0.001 -> 0.002"));
    // --resume with the folder written another way rewrites config.yaml's output_dir; the first command is still the
    // same command (the folder is the one it names).
    const auto resumed = electra::test::run_electra(fmt::format("--threads 1 finetune --resume '{}/.'", run.string()));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    const auto same = electra::test::run_electra(command(run));
    INFO(same.output);
    CHECK(same.status == 0);
    CHECK(contains(same.err, "is finished"));
  }
}

TEST_CASE("finetune --nproc 2: every rank stops at the same step, and the run resumes to the 2-rank weights",
          "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  const fs::path& root = ref.root;
  const auto command = [&](const fs::path& out, const std::string& extra = "") { return ref.command(out, extra); };
  {
    const std::string& weights2 = finetune_reference_2_ranks();
    const fs::path run = root / "ranks";
    const Stopped stopped = run_and_signal(command(run, "--nproc 2"), run / "metrics.jsonl", 3, {SIGTERM},
                                           root / "scratch");
    INFO(stopped.log);
    CHECK(stopped.status == 75);
    CHECK(contains(stopped.log, "by SIGTERM; rerun the same command to resume"));
    const auto resumed = electra::test::run_electra(command(run, "--nproc 2"));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(electra::read_file(run / "best" / "model.safetensors") == weights2);
  }
}

TEST_CASE("finetune signalled during an evaluation, a checkpoint write or data preparation stops within one step "
          "and resumes to the same weights and metrics",
          "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  std::mt19937 random(std::random_device{}());
  const char* const names[] = {"TERM", "INT", "USR1"};
  struct Phase {
    std::string name, point;
    int max_arrival;  // the point is reached at least this often in a run
  };
  // 8 dev evaluations of 4 batches in the loop, then the final dev and test scoring; a state every 3 steps; the
  // train, then the dev examples tokenized at the start.
  const std::vector<Phase> phases = {{"evaluation", "rank0.eval.batch", 40},
                                     {"checkpoint", "state.data.partial", 16},
                                     {"best", "best.saved", 3},
                                     {"data", "data.featurize", 2}};
  for (const Phase& phase : phases) {
    const int arrival = std::uniform_int_distribution<int>(1, phase.max_arrival)(random);
    const std::string sig = names[std::uniform_int_distribution<int>(0, 2)(random)];
    const std::string spec = fmt::format("{}:{}:{}", phase.point, arrival, sig);
    INFO("ELECTRA_CRASH_AT=" << spec);
    const fs::path run = ref.root / ("phase-" + phase.name);
    const auto stopped = run_with_crash_at(spec, ref.command(run));
    INFO(stopped.output);
    REQUIRE(stopped.status == 75);
    CHECK_FALSE(fs::exists(run / "results.json"));
    if (phase.name == "data") {
      CHECK(contains(stopped.err, "stopped by SIG" + sig + " while tokenizing examples; the saved files are as they "
                                                           "were; rerun the same command"));
      CHECK(latest_state_step(run) == -1);
    } else {
      // Within one step: the state of the step it was in, and the line naming it.
      CHECK(contains(stopped.err, "by SIG" + sig + "; rerun the same command to resume"));
      CHECK(stopped_step(stopped.err) == latest_state_step(run));
      if (phase.name == "checkpoint") CHECK(stopped_step(stopped.err) == 3 * arrival);
      // An evaluation in the step loop (the first 32 batches) is abandoned, not finished; so is the final scoring.
      std::smatch abandoned;
      const bool said =
          std::regex_search(stopped.err, abandoned, std::regex("step ([0-9]+): dev evaluation abandoned"));
      if (phase.name == "evaluation" && arrival <= 32) CHECK(said);
      if (said) CHECK(std::stoll(abandoned[1].str()) == stopped_step(stopped.err));
    }
    const auto resumed = electra::test::run_electra(ref.command(run));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(electra::read_file(run / "best" / "model.safetensors") == ref.weights);
    CHECK(electra::read_file(run / "predictions_test.txt") == ref.predictions);
    CHECK(metrics_without_timing(run / "metrics.jsonl") == ref.metrics);
    CHECK(results_without_timing(run / "results.json") == ref.results);
  }
}

TEST_CASE("finetune signalled between the micro-batches of a step undoes that step and resumes to the same weights",
          "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  // The same run in micro-batches of 8: 4 per step, 51 steps.
  const std::string accumulate = "--set train.gradient_accumulation_steps=4";
  const fs::path whole = ref.root / "whole-accumulated";
  const auto reference = electra::test::run_electra(ref.command(whole, accumulate));
  INFO(reference.output);
  REQUIRE(reference.status == 0);
  std::mt19937 random(std::random_device{}());
  const char* const names[] = {"TERM", "INT", "USR1"};
  // The point is reached before micro-batches 2, 3 and 4 of every step; from the second step on.
  const int arrival = std::uniform_int_distribution<int>(4, 3 * 51)(random);
  const std::string sig = names[std::uniform_int_distribution<int>(0, 2)(random)];
  const std::string spec = fmt::format("step.micro_batch:{}:{}", arrival, sig);
  INFO("ELECTRA_CRASH_AT=" << spec);
  const fs::path run = ref.root / "micro-batch";
  const auto stopped = run_with_crash_at(spec, ref.command(run, accumulate));
  INFO(stopped.output);
  REQUIRE(stopped.status == 75);
  // The step it was in is undone: the state is that of the step before, which the line names.
  const int64_t completed = (arrival - 1) / 3;
  CHECK(stopped_step(stopped.err) == completed);
  CHECK(latest_state_step(run) == completed);
  CHECK(contains(stopped.err, "by SIG" + sig + "; rerun the same command to resume"));
  const auto resumed = electra::test::run_electra(ref.command(run, accumulate));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(electra::read_file(run / "best" / "model.safetensors") ==
        electra::read_file(whole / "best" / "model.safetensors"));
  CHECK(electra::read_file(run / "predictions_test.txt") == electra::read_file(whole / "predictions_test.txt"));
  CHECK(metrics_without_timing(run / "metrics.jsonl") == metrics_without_timing(whole / "metrics.jsonl"));
}

TEST_CASE("finetune --nproc 2: a signal in one rank's evaluation stops both ranks at the same step, none hangs",
          "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  const std::string& weights2 = finetune_reference_2_ranks();
  // Rank 1 runs 2 of each evaluation's 4 batches: it alone is signalled, at a random one of them.
  std::mt19937 random(std::random_device{}());
  const int arrival = std::uniform_int_distribution<int>(1, 20)(random);
  const std::string spec = fmt::format("rank1.eval.batch:{}:TERM", arrival);
  INFO("ELECTRA_CRASH_AT=" << spec);
  const fs::path run = ref.root / "ranks-eval";
  const auto stopped = run_with_crash_at(spec, ref.command(run, "--nproc 2"));
  INFO(stopped.output);
  REQUIRE(stopped.status == 75);  // 124: a rank hung (the guard's timeout)
  CHECK(contains(stopped.err, "by SIGTERM; rerun the same command to resume"));
  CHECK(stopped_step(stopped.err) == latest_state_step(run));
  if (arrival <= 16) {
    CHECK(contains(stopped.err, fmt::format("step {}: dev evaluation abandoned", stopped_step(stopped.err))));
  }
  const auto resumed = electra::test::run_electra(ref.command(run, "--nproc 2"));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(electra::read_file(run / "best" / "model.safetensors") == weights2);
}

TEST_CASE("eval and predict stop on a signal, leaving their output files as they were", "[stop]") {
  const FinetuneReference& ref = finetune_reference();
  const fs::path model = ref.root / "whole" / "best";
  const fs::path dir = ref.root / "standalone";
  fs::create_directories(dir);
  {
    const std::string eval = fmt::format("--threads 1 eval --model {} --task nsmc --split test --data-dir {} "
                                         "--max-seq-length 64 --batch-size 16 --output-dir {}",
                                         q(model), q(kSource / "examples" / "data" / "nsmc"), q(dir / "eval"));
    const auto stopped = run_with_crash_at("rank0.eval.batch:3:TERM", eval);
    INFO(stopped.output);
    CHECK(stopped.status == 75);
    CHECK(contains(stopped.err, "stopped by SIGTERM while evaluating"));
    CHECK_FALSE(fs::exists(dir / "eval" / "results.json"));
    CHECK_FALSE(fs::exists(dir / "eval" / "predictions_test.txt"));
    const auto again = electra::test::run_electra(eval);
    INFO(again.output);
    CHECK(again.status == 0);
    CHECK(electra::read_file(dir / "eval" / "predictions_test.txt") == ref.predictions);
  }
  {
    std::ofstream(dir / "in.jsonl") << "{\"text\": \"재밌다\"}\n{\"text\": \"별로\"}\n{\"text\": \"최고의 영화\"}\n";
    std::ofstream(dir / "out.jsonl") << "old\n";
    const std::string predict = fmt::format("predict --model {} --input {} --output {} --batch-size 1", q(model),
                                            q(dir / "in.jsonl"), q(dir / "out.jsonl"));
    const auto stopped = run_with_crash_at("predict.batch:2:INT", predict);
    INFO(stopped.output);
    CHECK(stopped.status == 75);
    CHECK(contains(stopped.err, "stopped by SIGINT while predicting; " + (dir / "out.jsonl").string() +
                                    " is as it was; rerun the same command"));
    CHECK(electra::read_file(dir / "out.jsonl") == "old\n");
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file() ? 1 : 0;
    CHECK(files == 2);  // no temporary file left beside out.jsonl
    const auto again = electra::test::run_electra(predict);
    INFO(again.output);
    CHECK(again.status == 0);
    CHECK(lines_in(dir / "out.jsonl") == 3);
  }
}

TEST_CASE("pretrain stops cleanly on a signal, and the same command resumes to the same weights", "[stop]") {
  const auto root = electra::test::fresh_dir("stop_pretrain");
  const auto command = [&](const fs::path& out, int save_every = 100) {
    return fmt::format("--threads 1 pretrain --config {} --vocab {} --corpus {} --output-dir {} "
                       "--set train.max_steps=40 --set train.batch_size=8 --set train.logging_every=2 "
                       "--set train.save_every={}",
                       q(kSource / "configs" / "pretrain" / "tiny.yaml"), q(kFixtures / "pretrain"),
                       q(kFixtures / "pretrain" / "corpus.txt"), q(out), save_every);
  };
  const auto reference = electra::test::run_electra(command(root / "whole"));
  INFO(reference.output);
  REQUIRE(reference.status == 0);
  std::mt19937 random(std::random_device{}());
  for (const int sig : {SIGTERM, SIGUSR1}) {
    const fs::path run = root / signal_text(sig);
    const size_t lines = std::uniform_int_distribution<size_t>(1, 8)(random);
    INFO(signal_text(sig) << " after metrics line " << lines);
    const Stopped stopped = run_and_signal(command(run), run / "metrics.jsonl", lines, {sig}, root / "scratch");
    INFO(stopped.log);
    CHECK(stopped.status == 75);
    CHECK(contains(stopped.log, "by " + signal_text(sig) + "; rerun the same command to resume"));
    const auto resumed = electra::test::run_electra(command(run));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(contains(resumed.output, "40 steps"));
    for (const char* part : {"discriminator", "generator"})
      CHECK(electra::read_file(run / part / "model.safetensors") ==
            electra::read_file(root / "whole" / part / "model.safetensors"));
  }
  // While a state is written (one every 10 steps): the write ends, and the run stops at that step.
  const int arrival = std::uniform_int_distribution<int>(1, 3)(random);
  const std::string sig = arrival == 2 ? "INT" : "USR1";
  INFO("ELECTRA_CRASH_AT=state.data.partial:" << arrival << ":" << sig);
  const fs::path run = root / "checkpoint";
  const auto stopped = run_with_crash_at(fmt::format("state.data.partial:{}:{}", arrival, sig), command(run, 10));
  INFO(stopped.output);
  REQUIRE(stopped.status == 75);
  CHECK(contains(stopped.err, fmt::format("stopped at step {} by SIG{}; rerun the same command to resume",
                                          10 * arrival, sig)));
  CHECK(latest_state_step(run) == 10 * arrival);
  // While the resumed run skips the examples it trained on: it stops there, its state as it was.
  const auto skipping = run_with_crash_at("resume.skip:5:TERM", command(run, 10));
  INFO(skipping.output);
  CHECK(skipping.status == 75);
  CHECK(contains(skipping.err, "stopped by SIGTERM while skipping the examples the run has trained on; the saved "
                               "files are as they were; rerun the same command"));
  CHECK(latest_state_step(run) == 10 * arrival);
  const auto resumed = electra::test::run_electra(command(run, 10));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  for (const char* part : {"discriminator", "generator"})
    CHECK(electra::read_file(run / part / "model.safetensors") ==
          electra::read_file(root / "whole" / part / "model.safetensors"));
  CHECK(metrics_without_timing(run / "metrics.jsonl") == metrics_without_timing(root / "whole" / "metrics.jsonl"));
}

TEST_CASE("pretrain --prepare stopped by a signal leaves the folder's corpus as it was; the rerun completes",
          "[stop]") {
  const auto root = electra::test::fresh_dir("stop_prepare");
  const fs::path shards = root / "shards";
  const auto prepare = [&](int max_seq_length) {
    return fmt::format("pretrain --config {} --vocab {} --corpus {} --prepare {} --set data.max_seq_length={}",
                       q(kSource / "configs" / "pretrain" / "tiny.yaml"), q(kFixtures / "pretrain"),
                       q(kFixtures / "pretrain" / "corpus.txt"), q(shards), max_seq_length);
  };
  const auto first = electra::test::run_electra(prepare(128));
  INFO(first.output);
  REQUIRE(first.status == 0);
  const auto snapshot = [&] {
    std::string all;
    for (const auto& file : electra::list_files_recursive(shards)) {
      if (file.filename() != ".electra.lock") all += file.string() + "\n" + electra::read_file(file);
    }
    return all;
  };
  const std::string before = snapshot();
  std::mt19937 random(std::random_device{}());
  const int arrival = std::uniform_int_distribution<int>(1, 50)(random);
  INFO("ELECTRA_CRASH_AT=prepare.example:" << arrival << ":TERM");
  const auto stopped = run_with_crash_at(fmt::format("prepare.example:{}:TERM", arrival), prepare(64));
  INFO(stopped.output);
  CHECK(stopped.status == 75);
  CHECK(contains(stopped.err, fmt::format("stopped by SIGTERM while preparing {}; {} is as it was; rerun the same "
                                          "command to prepare it",
                                          shards.string(), shards.string())));
  CHECK(snapshot() == before);
  CHECK_FALSE(fs::exists(shards / ".preparing"));
  const auto again = electra::test::run_electra(prepare(64));
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK(snapshot() != before);
  CHECK(contains(electra::read_file(shards / "shards.json"), "\"max_seq_length\": 64"));
}
