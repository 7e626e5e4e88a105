// A clean stop on SIGTERM, SIGINT and SIGUSR1 (docs/stopping.md): the real `electra` binary, signalled at a random
// step of a tiny fine-tune and a tiny pre-training, saves its state, says so and exits 75; the same command then
// resumes to the weights and scores of an uninterrupted run, byte for byte.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
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

// 540 train rows after the dev carve-out, batches of 32, 3 epochs: 51 steps; a state every 3, a metrics line every 2.
void write_finetune_config(const fs::path& file) {
  std::ofstream(file) << "model: " << kSource.string() << "/examples/tiny-electra\ntask: nsmc\ndevice: cpu\n"
                      << "data:\n  data_dir: " << kSource.string() << "/examples/data/nsmc\n  max_seq_length: 64\n"
                      << "  dev_from_train: 0.1\noptimizer:\n  learning_rate: 1e-3\n"
                      << "train:\n  epochs: 3\n  batch_size: 32\n  eval_every: 10\n  logging_every: 2\n"
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

// The uninterrupted fine-tune, made once per test process.
struct FinetuneReference {
  fs::path root, config;
  std::string weights, predictions;
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
    return r;
  }();
  return ref;
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
    const auto whole2 = electra::test::run_electra(command(root / "whole2", "--nproc 2"));
    INFO(whole2.output);
    REQUIRE(whole2.status == 0);
    const fs::path run = root / "ranks";
    const Stopped stopped = run_and_signal(command(run, "--nproc 2"), run / "metrics.jsonl", 3, {SIGTERM},
                                           root / "scratch");
    INFO(stopped.log);
    CHECK(stopped.status == 75);
    CHECK(contains(stopped.log, "by SIGTERM; rerun the same command to resume"));
    const auto resumed = electra::test::run_electra(command(run, "--nproc 2"));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(electra::read_file(run / "best" / "model.safetensors") ==
          electra::read_file(root / "whole2" / "best" / "model.safetensors"));
  }
}

TEST_CASE("pretrain stops cleanly on a signal, and the same command resumes to the same weights", "[stop]") {
  const auto root = electra::test::fresh_dir("stop_pretrain");
  const auto command = [&](const fs::path& out) {
    return fmt::format("--threads 1 pretrain --config {} --vocab {} --corpus {} --output-dir {} "
                       "--set train.max_steps=40 --set train.batch_size=8 --set train.logging_every=2 "
                       "--set train.save_every=100",
                       q(kSource / "configs" / "pretrain" / "tiny.yaml"), q(kFixtures / "pretrain"),
                       q(kFixtures / "pretrain" / "corpus.txt"), q(out));
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
}
