// What several test files need: scratch directories, running the electra binary (the torch-layer tests add
// tests/model_support.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

namespace electra::test {

// The fixtures folder (tests/fixtures) and the electra binary of this build: defined in support.cpp alone, so that no
// other test object depends on the checkout's path (ccache hits across clones and git worktrees).
const char* fixtures_dir();
const char* electra_binary();

// A fresh, empty directory under the system temp dir (electra_test_<name>_<n>_<pid>, n counting the objects made),
// removed with the object.
struct TempDir {
  explicit TempDir(const std::string& name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

// A directory emptied and created (electra_test_u<uid>_<name>), left in place after the test so that a failed run
// can be inspected; the next run reuses it.
std::filesystem::path fresh_dir(const std::string& name);

struct CommandResult {
  int status = -1;     // exit code; -1 when killed by a signal
  std::string out, err;
  std::string output;  // out followed by err
};

// Runs a shell command line (sh syntax, as a group), capturing standard output and error apart.
CommandResult run_command(const std::string& command);
// Runs the electra binary built with the tests; `args` in shell syntax (quote paths).
CommandResult run_electra(const std::string& args);
// The same as an (exit code, stdout + stderr) pair, for structured bindings.
std::pair<int, std::string> run_electra_merged(const std::string& args);

bool contains(const std::string& text, const std::string& part);

}  // namespace electra::test
