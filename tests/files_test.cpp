#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "common/files.h"
#include "common/yaml_file.h"
#include "tests/catch.h"
#include "tests/support.h"

TEST_CASE("files write atomically and read back", "[common]") {
  const auto dir = std::filesystem::temp_directory_path() / "electra_files_test";
  electra::remove_tree(dir);
  const auto file = dir / "sub" / "a.txt";
  electra::write_file_atomic(file, "hello\n");
  CHECK(electra::read_file(file) == "hello\n");
  electra::write_file_atomic(file, "second");
  CHECK(electra::read_file(file) == "second");
  CHECK(electra::list_directory(dir / "sub").size() == 1);  // no temp file left
  CHECK_THROWS_AS(electra::read_file(dir / "missing.txt"), std::runtime_error);
  // A directory where the file should go is refused by name, and no temporary file is left beside it.
  std::filesystem::create_directories(dir / "sub" / "taken");
  try {
    electra::write_file_atomic(dir / "sub" / "taken", "x");
    FAIL("a directory was written over");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "cannot write " + (dir / "sub" / "taken").string() + ": it is a directory; give a file name");
  }
  CHECK(electra::list_directory(dir / "sub").size() == 2);  // a.txt and taken/, no temporary file
  electra::remove_tree(dir);
  CHECK_FALSE(std::filesystem::exists(dir));
  electra::remove_tree(dir);  // a missing path is not an error
}

TEST_CASE("directory trees are listed and removed without following links", "[common]") {
  namespace fs = std::filesystem;
  const auto root = fs::temp_directory_path() / "electra_files_tree_test";
  const auto outside = fs::temp_directory_path() / "electra_files_tree_outside";
  electra::remove_tree(root);
  electra::remove_tree(outside);
  electra::write_file_atomic(outside / "keep.txt", "kept");
  electra::write_file_atomic(root / "b" / "results.json", "{}");
  electra::write_file_atomic(root / "a" / "deep" / "results.json", "{}");
  electra::write_file_atomic(root / "a" / "x.txt", "x");
  fs::create_directory_symlink(outside, root / "link_to_dir");
  fs::create_symlink(root / "a" / "x.txt", root / "link_to_file");

  const auto files = electra::list_files_recursive(root);
  const std::vector<fs::path> expected = {root / "a" / "deep" / "results.json", root / "a" / "x.txt",
                                          root / "b" / "results.json", root / "link_to_file"};
  CHECK(files == expected);
  CHECK(electra::list_directory(root).size() == 4);
  CHECK(electra::list_directory(root / "missing").empty());

  electra::remove_tree(root);
  CHECK_FALSE(fs::exists(root));
  CHECK(electra::read_file(outside / "keep.txt") == "kept");  // the link went, not what it pointed to
  CHECK_THROWS_AS(electra::list_files_recursive(root), std::runtime_error);
  electra::remove_tree(outside);
}

TEST_CASE("files and folders are synced to disk, failures named", "[common]") {
  const electra::test::TempDir dir("files_sync");
  electra::write_file_atomic(dir.path / "a.txt", "a");
  CHECK_NOTHROW(electra::sync_file(dir.path / "a.txt"));
  CHECK_NOTHROW(electra::sync_directory(dir.path));
  CHECK(electra::sync_directory_noexcept(dir.path));
  const auto missing = dir.path / "missing";
  try {
    electra::sync_file(missing);
    FAIL("synced a missing file");
  } catch (const std::runtime_error& e) {
    CHECK(electra::test::contains(e.what(), "cannot sync " + missing.string() + " to disk: "));
  }
  CHECK_THROWS_AS(electra::sync_directory(missing), std::runtime_error);
  CHECK_FALSE(electra::sync_directory_noexcept(missing));  // best effort: reports, does not throw
}

TEST_CASE("a directory or a FIFO where a file is expected is refused at once, by name", "[common]") {
  const electra::test::TempDir dir("files_special");
  const auto expect_refused = [](const std::filesystem::path& path, const std::string& why) {
    try {
      electra::read_file(path);
      FAIL("read " << path.string());
    } catch (const std::runtime_error& e) {
      CHECK(electra::test::contains(e.what(), path.string()));
      CHECK(electra::test::contains(e.what(), why));
    }
  };
  expect_refused(dir.path, "is a directory");
  const auto fifo = dir.path / "pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  expect_refused(fifo, "not a regular file");  // opening it would block for ever
}

TEST_CASE("YAML files are read with errors naming the file, line and key", "[common]") {
  const electra::test::TempDir dir("files_yaml");
  const auto file = dir.path / "table.yaml";
  const auto error_of = [](auto f) -> std::string {
    try {
      f();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK_THROWS_AS(electra::load_yaml_file(dir.path / "missing.yaml"), std::runtime_error);
  electra::write_file_atomic(file, "a: 1\nb: [unclosed\n");
  CHECK_THROWS_AS(electra::load_yaml_file(file), std::runtime_error);
  const std::string invalid = error_of([&] { electra::load_yaml_file(file); });
  CHECK(electra::test::contains(invalid, file.string() + ":"));
  CHECK(electra::test::contains(invalid, ": invalid YAML: "));

  electra::write_file_atomic(file, "name: x\nlist: [1, two]\nnested:\n  typo: 1\nempty: ''\n");
  const YAML::Node root = electra::load_yaml_file(file);
  const electra::YamlReader yaml(file);
  CHECK(yaml.string_at(yaml.require(root, "", "name"), "name") == "x");
  CHECK(yaml.optional_string(root, "", "absent").empty());
  CHECK_THROWS_AS(yaml.require(root, "", "absent"), std::invalid_argument);
  CHECK(error_of([&] { yaml.ints_at(root["list"], "list", "a list of integers"); }) ==
        file.string() + ":2: key 'list[1]': expected an integer, got 'two'");
  CHECK(error_of([&] { yaml.check_keys(root["nested"], "nested", {"type"}); }) ==
        file.string() + ":4: key 'nested.typo': unknown key (known: type)");
  CHECK(error_of([&] { yaml.string_at(root["empty"], "empty"); }) ==
        file.string() + ":5: key 'empty': expected a non-empty string");
  CHECK(yaml.strings_at(YAML::Load("[a, b]"), "k", "a list") == std::vector<std::string>{"a", "b"});
}
