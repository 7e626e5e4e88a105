// The memory preflight (docs/memory.md): the memory this process may use, runs refused up front naming the keys,
// --force, `init` refusing before it writes, and `train.batch_size: auto`; the real `electra` binary on generated
// data.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/memory_limit.h"
#include "common/source_dir.h"
#include "tests/catch.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using electra::test::contains;
using electra::test::run_command;

namespace {

const std::string kSource = electra::source_dir();

// A 4 GB address-space cap in front of a command, so that a run the preflight lets through cannot take the machine's
// memory. AddressSanitizer maps terabytes of shadow memory and cannot start under one: there the tests that need the
// cap are skipped and the others run uncapped.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCapped = false;
const std::string kCap;
#else
constexpr bool kCapped = true;
const std::string kCap = "ulimit -v 4000000; ";
#endif

electra::test::CommandResult electra_capped(const std::string& args) {
  return run_command(fmt::format("{}timeout 20 '{}' --threads 1 {}", kCap, electra::test::electra_binary(), args));
}

// The words of the tiny model's vocabulary (one token each).
std::vector<std::string> vocabulary_words() {
  std::vector<std::string> words;
  std::ifstream in(kSource + "/examples/electra-nsmc-tiny/vocab.txt");
  for (std::string w; std::getline(in, w);)
    if (!w.empty() && w[0] != '[' && w.rfind("##", 0) != 0) words.push_back(w);
  return words;
}

// NSMC-format files of `rows` train and `test_rows` test lines of `words` random vocabulary words each.
void write_long_data(const fs::path& dir, int rows, int test_rows, int words) {
  const auto vocab = vocabulary_words();
  std::mt19937 rng(7);
  fs::create_directories(dir);
  for (const auto& [name, n] : {std::pair<const char*, int>{"ratings_train.txt", rows}, {"ratings_test.txt", test_rows}}) {
    std::ofstream out(dir / name);
    out << "id\tdocument\tlabel\n";
    for (int i = 0; i < n; ++i) {
      out << i << "\t";
      for (int w = 0; w < words; ++w) out << (w ? " " : "") << vocab[rng() % vocab.size()];
      out << "\t" << i % 2 << "\n";
    }
  }
}

// A model of the tiny shape with 512 positions and `heads` attention heads of size 1 (attention's memory grows with
// heads x length^2): config.json alone (`weights` false: a run refused before it loads them needs none) or made by
// `electra init`.
// Attention dropout on by default: LibTorch 2 then runs the same eager attention on the CPU as 1.13 (its flash kernel
// has no dropout), so the sizes below hold in both worlds.
fs::path write_model(const fs::path& dir, int heads, bool weights, int layers = 2, int hidden = 64,
                     double attention_dropout = 0.1) {
  const nlohmann::json config = {{"model_type", "electra"},      {"architectures", {"ElectraModel"}},
                                 {"vocab_size", 8000},           {"embedding_size", 32},
                                 {"hidden_size", hidden},        {"num_hidden_layers", layers},
                                 {"num_attention_heads", heads}, {"intermediate_size", 2 * hidden},
                                 {"hidden_act", "gelu"},         {"max_position_embeddings", 512},
                                 {"type_vocab_size", 2},         {"hidden_dropout_prob", 0.0},
                                 {"attention_probs_dropout_prob", attention_dropout}, {"pad_token_id", 0}};
  const std::string vocab = kSource + "/examples/electra-nsmc-tiny";
  if (weights) {
    electra::write_file_atomic(dir.string() + ".json", config.dump(2));
    const auto r = run_command(fmt::format("'{}' init --config '{}.json' --vocab '{}' --output '{}' --cased",
                                           electra::test::electra_binary(), dir.string(), vocab, dir.string()));
    INFO(r.output);
    REQUIRE(r.status == 0);
    return dir;
  }
  fs::create_directories(dir);
  electra::write_file_atomic(dir / "config.json", config.dump(2));
  fs::copy_file(vocab + "/vocab.txt", dir / "vocab.txt");
  fs::copy_file(vocab + "/tokenizer_config.json", dir / "tokenizer_config.json");
  return dir;
}

fs::path write_config(const fs::path& dir, const fs::path& model, const fs::path& data, const std::string& train) {
  const fs::path file = dir / "config.yaml";
  std::ofstream(file) << "model: " << model.string() << "\ntask: nsmc\ndevice: cpu\ndata:\n  data_dir: " << data.string()
                      << "\n  max_seq_length: 512\n  dev_from_train: 0.5\ntrain:\n  max_steps: 2\n  save_every: 1\n"
                      << "  eval_each_epoch: false\n" << train;
  return file;
}

}  // namespace

TEST_CASE("memory headroom reads the cgroup limits, v2 and v1, less their usage", "[memory]") {
  const electra::test::TempDir tmp("memory_cgroup");
  const fs::path& root = tmp.path;
  SECTION("v2: memory.max of the group and its parents, less memory.current without inactive page cache") {
    fs::create_directories(root / "job" / "step");
    std::ofstream(root / "memory.max") << "max\n";
    std::ofstream(root / "job" / "memory.max") << "2000000000\n";
    std::ofstream(root / "job" / "memory.current") << "700000000\n";
    std::ofstream(root / "job" / "memory.stat") << "anon 400000000\ninactive_file 200000000\n";
    std::ofstream(root / "job" / "step" / "memory.max") << "max\n";
    const auto room = electra::cgroup_headroom(root, "0::/job/step\n");
    CHECK(room.bytes == 2000000000 - 500000000);
    CHECK(room.source == "cgroup memory.max");
    CHECK(contains(room.detail, "2.00 GB"));
  }
  SECTION("v2 without a limit anywhere") {
    std::ofstream(root / "memory.max") << "max\n";
    CHECK(electra::cgroup_headroom(root, "0::/\n").bytes == -1);
  }
  SECTION("v1: the memory controller's limit_in_bytes; the kernel's 'unlimited' number is none") {
    fs::create_directories(root / "memory");
    std::ofstream(root / "memory" / "memory.limit_in_bytes") << "1000000000\n";
    std::ofstream(root / "memory" / "memory.usage_in_bytes") << "300000000\n";
    std::ofstream(root / "memory" / "memory.stat") << "total_inactive_file 100000000\n";
    // Inside a container the mount is the group itself while /proc/self/cgroup names the host's path.
    auto room = electra::cgroup_headroom(root, "4:memory:/docker/abc\n3:cpu:/\n");
    CHECK(room.bytes == 800000000);
    CHECK(room.source == "cgroup memory.limit_in_bytes");
    std::ofstream(root / "memory" / "memory.limit_in_bytes") << "9223372036854771712\n";
    CHECK(electra::cgroup_headroom(root, "4:memory:/\n").bytes == -1);
  }
}

TEST_CASE("memory headroom counts RLIMIT_AS less the address space already mapped", "[memory]") {
  if (!kCapped) {
    WARN("skipped: AddressSanitizer cannot start under an address-space cap");
    return;
  }
  const auto r = run_command(fmt::format("{}timeout 20 '{}' finetune --config '{}/configs/demo/nsmc.yaml' --dump-config",
                                         kCap, electra::test::electra_binary(), kSource));
  INFO(r.output);
  REQUIRE(r.status == 0);
  // 4,000,000 KiB
  CHECK(contains(r.out, "# memory: peak "));
  CHECK(contains(r.out, "(RLIMIT_AS 4.10 GB - "));
  CHECK(contains(r.out, " mapped)"));
  // This process, uncapped: never RLIMIT_AS.
  const auto here = electra::memory_headroom();
  CHECK(here.bytes > 0);
  CHECK(here.source != "RLIMIT_AS");
}

TEST_CASE("runs that cannot fit are refused before they write, naming the key and the estimate", "[memory]") {
  const electra::test::TempDir tmp("memory_refuse");
  const fs::path data = tmp.path / "data";
  write_long_data(data, 400, 4, 500);
  // 64 heads over 500 tokens: ~0.3 GB of attention per example in training, beyond 4 GB at 16 examples.
  const fs::path model = write_model(tmp.path / "model", 64, false);
  const fs::path run = tmp.path / "run";
  const auto finetune = [&](const std::string& sets) {
    return electra_capped(fmt::format("finetune --config '{}' --output-dir '{}' {}",
                                      write_config(tmp.path, model, data, "").string(), run.string(), sets));
  };
  SECTION("a train batch the memory cannot hold") {
    const auto r = finetune("--set train.batch_size=200");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "electra: error: memory: fine-tuning needs about "));
    CHECK(contains(r.err, "train.batch_size=200, train.gradient_accumulation_steps=1, data.max_seq_length=512"));
    CHECK(contains(r.err, "--force"));
    CHECK(contains(r.out + r.err, "memory: peak "));  // the estimate, printed first
    CHECK_FALSE(fs::exists(run));
  }
  SECTION("the issue's train.batch_size=1000000") {
    const auto r = finetune("--set train.batch_size=1000000");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "train.batch_size"));
    CHECK(contains(r.err, "1000000"));
    CHECK_FALSE(fs::exists(run / "config.yaml"));
  }
  SECTION("an eval batch the memory cannot hold") {
    const auto r = finetune("--set train.batch_size=1 --set train.eval_batch_size=1000000000");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "train.eval_batch_size"));
    CHECK(contains(r.err, "1000000000"));
    CHECK_FALSE(fs::exists(run / "config.yaml"));
  }
  SECTION("a model of 1024 layers, from its config.json, before its weights are read") {
    const fs::path deep = write_model(tmp.path / "deep", 12, false, 1024, 768);
    const auto r = electra_capped(fmt::format("finetune --config '{}' --output-dir '{}' --set train.batch_size=1",
                                              write_config(tmp.path, deep, data, "").string(), run.string()));
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "num_hidden_layers"));
    CHECK(contains(r.err, "1024"));
    CHECK_FALSE(fs::exists(run / "config.yaml"));
  }
}

TEST_CASE("pre-training that cannot fit is refused before it reads the corpus or writes", "[memory]") {
  const electra::test::TempDir tmp("memory_pretrain");
  const std::string fixtures = electra::test::fixtures_dir();
  const auto pretrain = [&](const std::string& sets) {
    return electra_capped(fmt::format("pretrain --config '{}/configs/pretrain/tiny.yaml' --corpus '{}/pretrain/corpus.txt' "
                                      "--vocab '{}/pretrain' --output-dir '{}' {}",
                                      kSource, fixtures, fixtures, (tmp.path / "run").string(), sets));
  };
  SECTION("train.batch_size=1000000000000") {
    const auto r = pretrain("--set train.batch_size=1000000000000");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "train.batch_size"));
    CHECK(contains(r.err, "1000000000000"));
  }
  SECTION("a batch within any bound but beyond the memory") {
    const auto r = pretrain("--set train.batch_size=4096 --set data.max_seq_length=512");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "electra: error: memory: pre-training needs about "));
    CHECK(contains(r.err, "train.batch_size=4096, train.gradient_accumulation_steps=1, data.max_seq_length=512"));
  }
  SECTION("model.num_hidden_layers=1024") {
    const auto r = pretrain("--set model.num_hidden_layers=1024 --set model.hidden_size=768 "
                            "--set model.num_attention_heads=12 --set model.intermediate_size=3072");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "num_hidden_layers"));
    CHECK(contains(r.err, "1024"));
  }
  CHECK_FALSE(fs::exists(tmp.path / "run" / "config.yaml"));
}

TEST_CASE("--force starts a run the estimate refuses", "[memory]") {
  // Only under the address-space cap: what the run then allocates fails there instead of taking the machine.
  if (!kCapped) {
    WARN("skipped: AddressSanitizer cannot start under an address-space cap");
    return;
  }
  const electra::test::TempDir tmp("memory_force");
  const fs::path data = tmp.path / "data";
  write_long_data(data, 400, 4, 500);
  const fs::path model = write_model(tmp.path / "model", 64, true);
  const auto r = electra_capped(
      fmt::format("finetune --config '{}' --output-dir '{}' --set train.batch_size=200 --force --stop-after 1",
                  write_config(tmp.path, model, data, "").string(), (tmp.path / "run").string()));
  INFO(r.output);
  CHECK(contains(r.err, "warning: memory: the estimate exceeds what this process may add (RLIMIT_AS"));
  CHECK(contains(r.err, "--force starts anyway"));
  // Past the preflight: the run wrote its folder. Then LibTorch 1.13's eager attention (the B A T^2 scores the
  // estimate counts) runs out of memory under the cap; LibTorch 2's fused attention keeps no scores and may finish
  // the one step instead.
  CHECK(fs::exists(tmp.path / "run" / "config.yaml"));
  const bool out_of_memory = r.status == 1 && contains(r.err, "out of memory");
  const bool one_step = r.status == 0 && contains(r.err + r.out, "stopped after step 1");
  CHECK((out_of_memory || one_step));
}

TEST_CASE("the estimate counts the attention kernel of the build: eager scores on 1.13, none under fused attention",
          "[memory]") {
  if (!kCapped) {
    WARN("skipped: AddressSanitizer cannot start under an address-space cap");
    return;
  }
  const electra::test::TempDir tmp("memory_fused");
  const fs::path data = tmp.path / "data";
  write_long_data(data, 128, 4, 500);
  // No attention dropout: LibTorch 2 runs its flash kernel on the CPU too. 64 heads over 500 tokens: ~0.3 GB of
  // eager scores per example, ~7 MB of everything else.
  const fs::path model = write_model(tmp.path / "model", 64, true, 2, 64, 0.0);
  const auto r = electra_capped(
      fmt::format("finetune --config '{}' --output-dir '{}' --set train.batch_size=64 --stop-after 1",
                  write_config(tmp.path, model, data, "").string(), (tmp.path / "run").string()));
  INFO(r.output);
  const auto version = electra::test::run_electra("version");
  INFO(version.output);
  if (contains(version.out, "fused attention")) {
    CHECK(r.status == 0);
    CHECK(contains(r.err + r.out, "stopped after step 1"));
  } else {
    CHECK(r.status == 1);
    CHECK(contains(r.err, "electra: error: memory: fine-tuning needs about "));
    CHECK_FALSE(fs::exists(tmp.path / "run" / "config.yaml"));
  }
}

TEST_CASE("init refuses a model the memory cannot hold before it writes anything", "[memory]") {
  if (!kCapped) {
    WARN("skipped: AddressSanitizer cannot start under an address-space cap");
    return;
  }
  const electra::test::TempDir tmp("memory_init");
  // 200 layers of the base width: 1.4e9 parameters, 5.7 GB in fp32, beyond a 4 GB address space.
  const nlohmann::json config = {{"model_type", "electra"},        {"vocab_size", 8000},
                                 {"embedding_size", 768},          {"hidden_size", 768},
                                 {"num_hidden_layers", 200},       {"num_attention_heads", 12},
                                 {"intermediate_size", 3072},      {"max_position_embeddings", 512},
                                 {"hidden_act", "gelu"},           {"type_vocab_size", 2}};
  electra::write_file_atomic(tmp.path / "big.json", config.dump());
  const fs::path out = tmp.path / "out";
  const auto r = electra_capped(fmt::format("init --config '{}' --vocab '{}/examples/electra-nsmc-tiny' --output '{}'",
                                            (tmp.path / "big.json").string(), kSource, out.string()));
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "more than the "));
  CHECK(contains(r.err, "(RLIMIT_AS 4.10 GB - "));
  CHECK(contains(r.err, "nothing was written"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("train.batch_size auto keeps the batch size, picks the largest micro-batch that fits and resumes with it",
          "[memory]") {
  if (!kCapped) {
    WARN("skipped: AddressSanitizer cannot start under an address-space cap");
    return;
  }
  const electra::test::TempDir tmp("memory_auto");
  const fs::path data = tmp.path / "data";
  write_long_data(data, 128, 2, 200);  // 64 train rows
  const fs::path model = write_model(tmp.path / "model", 64, true);
  // The recipe's 64 examples per step; `--set train.batch_size=auto` keeps them.
  const fs::path config = write_config(tmp.path, model, data, "  batch_size: 64\n  eval_batch_size: 1\n");
  const std::string set_auto = " --set train.batch_size=auto";
  // The address space LibTorch maps before the preflight, as the preflight reports it; the cap leaves 2.4 GB above
  // it: ~105 MB per example of 64 heads over 200 tokens with attention dropout, so 32 examples do not fit and 16 do.
  const auto probe = run_command(fmt::format("{}'{}' --threads 1 finetune --config '{}' --dump-config{}", kCap,
                                             electra::test::electra_binary(), config.string(), set_auto));
  INFO(probe.output);
  CHECK(contains(probe.out, "gradient_accumulation_steps: auto"));
  const auto at = probe.out.find(" mapped)");
  REQUIRE(at != std::string::npos);
  const auto from = probe.out.rfind("- ", at);
  const double mapped = std::stod(probe.out.substr(from + 2, at - from - 2)) *
                        (probe.out.compare(at - 2, 2, "GB") == 0 ? 1e9 : 1e6);
  const std::string cap = fmt::format("ulimit -v {}; ", static_cast<int64_t>((mapped + 2.4e9) / 1024));
  const fs::path run = tmp.path / "run";
  const std::string command = fmt::format("{}timeout 120 '{}' --threads 1 finetune --config '{}' --output-dir '{}'{}",
                                          cap, electra::test::electra_binary(), config.string(), run.string(), set_auto);
  const auto first = run_command(command + " --stop-after 1");
  INFO(first.output);
  REQUIRE(first.status == 0);
  const auto chosen = nlohmann::json::parse(electra::read_file(run / "auto_batch.json"));
  CHECK(chosen.at("micro_batch").get<int64_t>() == 16);
  CHECK(chosen.at("gradient_accumulation_steps").get<int64_t>() == 4);
  CHECK(chosen.at("batch_size").get<int64_t>() == 64);
  CHECK(contains(first.err, "gradient accumulation auto: micro-batch 16 x 4 accumulation steps = 64 examples"));
  // config.yaml keeps the batch size and `auto`: the same command resumes (the same-command resume compares it),
  // with the recorded micro-batch.
  const std::string written = electra::read_file(run / "config.yaml");
  CHECK(contains(written, "batch_size: 64\n"));
  CHECK(contains(written, "gradient_accumulation_steps: auto\n"));
  const auto second = run_command(command);
  INFO(second.output);
  REQUIRE(second.status == 0);
  CHECK(contains(second.err, "resuming"));
  CHECK(contains(second.err, "micro-batch 16 x 4 accumulation steps (recorded)"));
  CHECK(fs::exists(run / "results.json"));
}
