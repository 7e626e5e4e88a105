#include "tests/support.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "common/files.h"

namespace electra::test {
namespace fs = std::filesystem;

namespace {

// Per process: removed again by whoever made it.
fs::path scratch_path(const std::string& name) {
  return fs::temp_directory_path() / fmt::format("electra_test_{}_{}", name, ::getpid());
}

// Per user, reused by the next run (so kept directories do not pile up).
fs::path kept_path(const std::string& name) {
  return fs::temp_directory_path() / fmt::format("electra_test_u{}_{}", ::getuid(), name);
}

}  // namespace

const char* fixtures_dir() { return ELECTRA_TEST_FIXTURES; }
const char* electra_binary() { return ELECTRA_BINARY; }

TempDir::TempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  path = scratch_path(fmt::format("{}_{}", name, counter++));  // unique per object: two may be alive at once
  remove_tree(path);
  fs::create_directories(path);
}

TempDir::~TempDir() {
  remove_tree_noexcept(path);
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = kept_path(name);
  remove_tree(dir);
  fs::create_directories(dir);
  return dir;
}

CommandResult run_command(const std::string& command) {
  static std::atomic<int> counter{0};
  const fs::path dir = scratch_path(fmt::format("command_{}", counter++));
  fs::create_directories(dir);
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  // Grouped, so that the capture covers a whole list (a || b) and a redirection inside the command still wins.
  const int raw = std::system(fmt::format("{{ {}\n}} >'{}' 2>'{}'", command, out.string(), err.string()).c_str());
  CommandResult r;
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  r.output = r.out + r.err;
  remove_tree_noexcept(dir);
  return r;
}

CommandResult run_electra(const std::string& args) {
  return run_command(fmt::format("'{}' {}", electra_binary(), args));
}

std::pair<int, std::string> run_electra_merged(const std::string& args) {
  CommandResult r = run_electra(args);
  return {r.status, std::move(r.output)};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace electra::test
