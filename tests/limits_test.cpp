// Numbers a user types that could exhaust the machine are bounded up front, with the key, value and limit named
// (docs/reliability.md).
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/decimal.h"

#include "tests/catch.h"
#include "tests/support.h"
#include "common/source_dir.h"

using electra::test::contains;

TEST_CASE("--threads beyond a few per core is capped with a warning, and answers at once", "[limits]") {
  // Uncapped, LibTorch started 100,000 threads one by one and `version` did not answer for minutes; `timeout` turns
  // such a hang into a failure here.
  const auto r = electra::test::run_command(fmt::format("timeout 60 '{}' --threads 100000 version", electra::test::electra_binary()));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  CHECK(contains(r.err, fmt::format("warning: --threads 100000 is more than 4 per core on this machine's {} cores: "
                                    "using {}",
                                    cores, 4 * cores)));
  CHECK(contains(r.out, fmt::format("CPU threads: {}", 4 * cores)));
  const auto fine = electra::test::run_electra("--threads 1 version");
  CHECK(fine.status == 0);
  CHECK_FALSE(contains(fine.err, "warning"));
}

TEST_CASE("numbers read from a user's file or flag are decimal and finite", "[limits]") {
  using electra::parse_decimal;
  for (const auto& [text, value] : std::vector<std::pair<std::string, double>>{
           {"0", 0}, {"-3", -3}, {"+2.5", 2.5}, {".5", 0.5}, {"5.", 5}, {"1e-4", 1e-4}, {"3E+2", 300}, {"42.00", 42}}) {
    INFO(text);
    REQUIRE(parse_decimal(text).has_value());
    CHECK(*parse_decimal(text) == value);
  }
  // strtod reads every one of these as a number.
  for (const std::string text : {"0x1p3", "0X10", "inf", "-Infinity", "nan", "NAN(1)", "1e999", " 1", "1 ", "", ".",
                                 "-", "1e", "1e+", "1.2.3", "--1", "1,5"}) {
    INFO(text);
    CHECK_FALSE(parse_decimal(text).has_value());
  }
  const std::string config = std::string(electra::source_dir()) + "/configs/demo/nsmc.yaml";
  for (const std::string value : {"0x1p3", "inf", "nan"}) {
    const auto r = electra::test::run_electra(
        fmt::format("finetune --config '{}' --set optimizer.learning_rate={} --dump-config", config, value));
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(contains(r.err, "optimizer.learning_rate"));
    CHECK(contains(r.err, value));
  }
}

TEST_CASE("vocab --size asks for what the corpus can yield, not for what was typed", "[limits]") {
  // Under a 4 GB address-space cap: the trainer used to reserve ~16 bytes per asked token up front (2e9: 32 GB).
  // AddressSanitizer maps terabytes of shadow memory and cannot start under such a cap: there the run goes uncapped.
#if defined(__SANITIZE_ADDRESS__)
  const std::string cap;
#else
  const std::string cap = "ulimit -v 4000000; ";
#endif
  const electra::test::TempDir tmp("vocab_size_limit");
  const std::string corpus = std::string(electra::test::fixtures_dir()) + "/pretrain/corpus.txt";
  const auto big = electra::test::run_command(
      fmt::format("{}timeout 60 '{}' --threads 1 vocab --corpus '{}' --size 2000000000 --output '{}'", cap,
                  electra::test::electra_binary(), corpus, (tmp.path / "big").string()));
  INFO(big.output);
  CHECK(big.status == 0);
  CHECK(contains(big.out, "(asked 2000000000)"));
  const auto beyond = electra::test::run_command(
      fmt::format("{}timeout 60 '{}' --threads 1 vocab --corpus '{}' --size 3000000000 --output '{}'", cap,
                  electra::test::electra_binary(), corpus, (tmp.path / "beyond").string()));
  INFO(beyond.output);
  CHECK(beyond.status == 1);
  CHECK(contains(beyond.err, "vocab_size (--size) 3000000000 is beyond"));
}
