#include <filesystem>
#include <stdexcept>

#include "common/files.h"
#include "tests/catch.h"

TEST_CASE("files write atomically and read back", "[common]") {
  const auto dir = std::filesystem::temp_directory_path() / "electra_files_test";
  std::filesystem::remove_all(dir);
  const auto file = dir / "sub" / "a.txt";
  electra::write_file_atomic(file, "hello\n");
  CHECK(electra::read_file(file) == "hello\n");
  electra::write_file_atomic(file, "second");
  CHECK(electra::read_file(file) == "second");
  CHECK(std::distance(std::filesystem::directory_iterator(dir / "sub"), {}) == 1);  // no temp file left
  CHECK_THROWS_AS(electra::read_file(dir / "missing.txt"), std::runtime_error);
  std::filesystem::remove_all(dir);
}
