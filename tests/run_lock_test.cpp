// One run per folder (docs/reliability.md): the lock itself, and every command that writes a folder refusing one
// that another process holds, at once and without touching it.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/files.h"
#include "common/folder_lock.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using electra::FolderLock;
using electra::test::contains;

namespace {

const fs::path kSource = electra::source_dir();
const fs::path kFixtures = electra::test::fixtures_dir();

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The tiny fine-tune of tests/run_safety_test.cpp: 17 steps of the shipped tiny model on the shipped NSMC sample.
void write_finetune_config(const fs::path& file) {
  std::ofstream(file) << "model: " << kSource.string() << "/examples/tiny-electra\ntask: nsmc\ndevice: cpu\n"
                      << "data:\n  data_dir: " << kSource.string() << "/examples/data/nsmc\n  max_seq_length: 64\n"
                      << "  dev_from_train: 0.1\noptimizer:\n  learning_rate: 1e-3\n"
                      << "train:\n  epochs: 1\n  batch_size: 32\n  eval_every: 5\n  save_every: 3\n";
}

std::string finetune_args(const fs::path& config, const fs::path& out) {
  return fmt::format("--threads 1 finetune --config {} --output-dir {}", q(config), q(out));
}

std::string pretrain_args(const fs::path& out, int steps) {
  return fmt::format("--threads 1 pretrain --config {} --vocab {} --corpus {} --output-dir {} --set train.max_steps={} "
                     "--set train.batch_size=8",
                     q(kSource / "configs" / "pretrain" / "tiny.yaml"), q(kFixtures / "pretrain"),
                     q(kFixtures / "pretrain" / "corpus.txt"), q(out), steps);
}

// Every file below `dir` and its content, the lock file left out.
std::string listing(const fs::path& dir) {
  std::string text;
  for (const auto& f : electra::list_files_recursive(dir))
    if (f.filename() != electra::kFolderLockName) text += f.string() + "\n" + electra::read_file(f) + "\n";
  return text;
}

// Waits until the lock file of `dir` names a holder (the first lines of a run are quick; 60 s is for a loaded CI).
bool wait_for_holder(const fs::path& dir) {
  for (int i = 0; i < 6000; ++i) {
    if (!electra::folder_lock_holder(dir).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// The pid the lock file of `dir` names ("pid N on host ..."), or 0.
pid_t holder_pid(const fs::path& dir) {
  const std::string text = electra::folder_lock_holder(dir);
  const auto at = text.find("pid ");
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::stol(text.substr(at + 4)));
}

}  // namespace

TEST_CASE("a folder lock has one holder and is freed when its holder dies", "[lock]") {
  const electra::test::TempDir tmp("folder_lock");
  const fs::path dir = tmp.path / "run";
  SECTION("a second holder is refused, naming the first; a released lock can be taken again") {
    FolderLock first = FolderLock::acquire(dir, "finetune");
    CHECK(first.held());
    CHECK(contains(electra::folder_lock_holder(dir), fmt::format("pid {} on host", ::getpid())));
    try {
      FolderLock::acquire(dir, "pretrain");
      FAIL("a held folder was locked twice");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), dir.string() + " is in use by `electra finetune`, pid " + std::to_string(::getpid())));
    }
    first = FolderLock();  // released: the lock file goes, and the folder it created (empty) too
    CHECK_FALSE(fs::exists(dir / electra::kFolderLockName));
    CHECK_FALSE(fs::exists(dir));
    const FolderLock again = FolderLock::acquire(dir, "pretrain");
    CHECK(again.held());
  }
  SECTION("a folder that existed, or that the holder wrote into, stays") {
    fs::create_directories(dir);
    { const FolderLock lock = FolderLock::acquire(dir, "vocab"); }
    CHECK(fs::is_directory(dir));
    fs::path other = tmp.path / "other";
    {
      const FolderLock lock = FolderLock::acquire(other, "init");
      electra::write_file_atomic(other / "config.json", "{}");
    }
    CHECK(fs::exists(other / "config.json"));
    CHECK(electra::list_directory(other).size() == 1);
  }
  SECTION("the lock of a process killed with SIGKILL is free at once") {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      try {
        const FolderLock lock = FolderLock::acquire(dir, "finetune");
        if (::write(ready[1], "1", 1) != 1) ::_exit(2);
        for (;;) ::pause();
      } catch (...) {
        ::_exit(1);
      }
    }
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    ::close(ready[1]);
    try {
      FolderLock::acquire(dir, "finetune");
      FAIL("a folder held by another process was locked");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), fmt::format("pid {} on host", child)));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    CHECK(contains(electra::folder_lock_holder(dir), fmt::format("pid {}", child)));  // stale text, free lock
    const FolderLock lock = FolderLock::acquire(dir, "finetune");
    CHECK(lock.held());
    CHECK(contains(electra::folder_lock_holder(dir), fmt::format("pid {}", ::getpid())));
  }
}

TEST_CASE("every command that writes a folder refuses one another process holds, and changes nothing", "[lock]") {
  const electra::test::TempDir tmp("run_lock");
  const fs::path config = tmp.path / "nsmc.yaml";
  write_finetune_config(config);
  const fs::path held = tmp.path / "held";
  fs::create_directories(held);
  electra::write_file_atomic(held / "config.yaml", electra::read_file(config));  // what --resume would read
  const std::string before = listing(held);
  const FolderLock lock = FolderLock::acquire(held, "finetune");
  const std::string vocab = (kFixtures / "pretrain").string();
  const std::string commands[] = {
      finetune_args(config, held),
      fmt::format("finetune --resume {}", q(held)),
      fmt::format("finetune --suite glue --offline --model {} --data-dir {} --output-dir {}",
                  q(kSource / "examples" / "tiny-electra"), q(tmp.path / "no-data"), q(held)),
      pretrain_args(held, 2),
      fmt::format("pretrain --config {} --vocab {} --corpus {} --prepare {}",
                  q(kSource / "configs" / "pretrain" / "tiny.yaml"), q(vocab),
                  q(kFixtures / "pretrain" / "corpus.txt"), q(held)),
      fmt::format("vocab --corpus {} --size 200 --output {} --force", q(kFixtures / "pretrain" / "corpus.txt"),
                  q(held)),
      fmt::format("init --config tiny --vocab {} --output {}", q(vocab), q(held)),
  };
  for (const auto& args : commands) {
    const auto r = electra::test::run_electra(args);
    INFO(args << "\n" << r.output);
    CHECK(r.status != 0);
    CHECK(contains(r.err, held.string() + " is in use by `electra finetune`, pid " + std::to_string(::getpid())));
    CHECK(listing(held) == before);
  }
}

TEST_CASE("of two runs started into one folder exactly one runs, whichever starts first", "[lock]") {
  const electra::test::TempDir tmp("run_lock_pair");
  const fs::path config = tmp.path / "nsmc.yaml";
  write_finetune_config(config);
  const struct {
    std::string name, first, second, holder;
  } orders[] = {
      // The first run is far longer than the test: it holds the folder until the test stops it.
      {"finetune first", finetune_args(config, tmp.path / "a") + " --set train.epochs=1000", pretrain_args(tmp.path / "a", 2),
       "`electra finetune`"},
      {"pretrain first", pretrain_args(tmp.path / "b", 100000), finetune_args(config, tmp.path / "b"), "`electra pretrain`"},
  };
  for (const auto& order : orders) {
    const fs::path dir = tmp.path / (order.first == orders[0].first ? "a" : "b");
    INFO(order.name);
    const std::string log = (tmp.path / (dir.filename().string() + ".log")).string();
    // The first run in the background; its shell prints its exit code when it ends.
    const auto started = electra::test::run_command(fmt::format(
        "( '{}' {} > '{}' 2>&1; echo \"exit $?\" >> '{}' ) >/dev/null 2>&1 & echo started", electra::test::electra_binary(), order.first, log, log));
    REQUIRE(started.status == 0);
    REQUIRE(wait_for_holder(dir));
    const auto second = electra::test::run_electra(order.second);
    INFO(second.output);
    CHECK(second.status != 0);
    CHECK(contains(second.err, dir.string() + " is in use by " + order.holder));
    // The first one still runs, untouched by the second; stopped, it ends as a stop does and frees the folder.
    const pid_t holder = holder_pid(dir);
    REQUIRE(holder > 0);
    REQUIRE(::kill(holder, SIGTERM) == 0);
    std::string first_log;
    for (int i = 0; i < 3000 && !contains(first_log, "exit "); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      first_log = fs::exists(log) ? electra::read_file(log) : "";
    }
    INFO(first_log);
    CHECK(contains(first_log, "exit 75"));
    CHECK_FALSE(fs::exists(dir / electra::kFolderLockName));
  }
}

TEST_CASE("a run without output_dir is locked in runs/<task>, where it writes", "[lock]") {
  const electra::test::TempDir tmp("run_lock_default_dir");
  const fs::path config = tmp.path / "nsmc.yaml";
  write_finetune_config(config);
  const std::string command =
      fmt::format("cd {} && '{}' --threads 1 finetune --config {} --stop-after 2", q(tmp.path), electra::test::electra_binary(), q(config));
  const auto first = electra::test::run_command(command);
  INFO(first.output);
  REQUIRE(first.status == 0);
  CHECK(fs::exists(tmp.path / "runs" / "nsmc" / "state" / "latest.json"));
  const FolderLock lock = FolderLock::acquire(tmp.path / "runs" / "nsmc", "finetune");
  const auto second = electra::test::run_command(command);
  CHECK(second.status != 0);
  CHECK(contains(second.err, "runs/nsmc is in use by `electra finetune`"));
}
