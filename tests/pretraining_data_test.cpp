#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/files.h"
#include "corpus/pretraining_data.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using electra::CorpusOptions;
using electra::ExampleBuilder;
using electra::PretrainingExample;
using electra::PretrainingStream;
using electra::Tokenizer;
using electra::test::contains;
using electra::test::TempDir;

const fs::path kVocab = fs::path(electra::test::fixtures_dir()) / "tokenizer" / "vocab.txt";

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::from_files(kVocab, std::nullopt);
  return t;
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

std::vector<int32_t> ids(const std::vector<std::string>& tokens) {
  std::vector<int32_t> out;
  for (const std::string& t : tokens) {
    const auto id = tokenizer().token_to_id(t);
    REQUIRE(id != tokenizer().unk_id());
    out.push_back(static_cast<int32_t>(id));
  }
  return out;
}

std::vector<PretrainingExample> read_all(const CorpusOptions& options, int64_t epoch) {
  PretrainingStream stream(tokenizer(), options, epoch);
  std::vector<PretrainingExample> out;
  for (PretrainingExample e; stream.next(e);) out.push_back(e);
  CHECK(stream.produced() == static_cast<int64_t>(out.size()));
  return out;
}

bool same(const PretrainingExample& a, const PretrainingExample& b) {
  return a.input_ids == b.input_ids && a.first_segment_length == b.first_segment_length;
}
bool same(const std::vector<PretrainingExample>& a, const std::vector<PretrainingExample>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
           return same(x, y);
         });
}
std::vector<std::pair<std::vector<int32_t>, int32_t>> sorted(const std::vector<PretrainingExample>& examples) {
  std::vector<std::pair<std::vector<int32_t>, int32_t>> out;
  for (const auto& e : examples) out.emplace_back(e.input_ids, e.first_segment_length);
  std::sort(out.begin(), out.end());
  return out;
}

// The message of the std::runtime_error `f` throws ("" when it throws nothing).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// A deterministic corpus of `documents` documents of 1-6 lines of 1-3 sentences, blank lines between documents.
std::string synthetic_corpus(int documents) {
  const std::vector<std::string> words = {"the", "cat", "is", "on", "mat", "file", "not", "found", "error", "a"};
  std::string text;
  uint64_t x = 12345;
  auto next = [&](uint64_t n) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (x >> 33) % n;
  };
  for (int d = 0; d < documents; ++d) {
    const auto lines = 1 + next(6);
    for (uint64_t l = 0; l < lines; ++l) {
      const auto sentences = 1 + next(3);
      for (uint64_t s = 0; s < sentences; ++s) {
        const auto n = 1 + next(12);
        for (uint64_t w = 0; w < n; ++w) text += words[next(words.size())] + " ";
        text += s + 1 < sentences ? ". " : ".";
      }
      text += "\n";
    }
    text += "\n";
  }
  return text;
}

void check_well_formed(const std::vector<PretrainingExample>& examples, int64_t max_length) {
  const auto cls = static_cast<int32_t>(tokenizer().cls_id()), sep = static_cast<int32_t>(tokenizer().sep_id());
  for (const auto& e : examples) {
    const auto n = static_cast<int64_t>(e.input_ids.size());
    REQUIRE(n <= max_length);
    REQUIRE(e.first_segment_length >= 2);
    REQUIRE(e.first_segment_length <= n);
    CHECK(e.input_ids.front() == cls);
    CHECK(e.input_ids[e.first_segment_length - 1] == sep);
    CHECK(e.input_ids.back() == sep);
    CHECK(std::count(e.input_ids.begin(), e.input_ids.end(), sep) == (e.first_segment_length == n ? 1 : 2));
  }
}

}  // namespace

TEST_CASE("split_sentences splits after terminators followed by whitespace", "[corpus]") {
  using V = std::vector<std::string>;
  CHECK(electra::split_sentences("재밌어요.. 진짜 최고!! 또 볼래요") == V{"재밌어요..", "진짜 최고!!", "또 볼래요"});
  CHECK(electra::split_sentences("First one. Second one? Third!") == V{"First one.", "Second one?", "Third!"});
  CHECK(electra::split_sentences("He said \"stop.\" Then left.") == V{"He said \"stop.\"", "Then left."});
  CHECK(electra::split_sentences("(See below.) Next") == V{"(See below.)", "Next"});
  CHECK(electra::split_sentences("흠...포스터보고 초딩영화줄....오버연기조차") == V{"흠...포스터보고 초딩영화줄....오버연기조차"});
  CHECK(electra::split_sentences("pi is 3.14 today") == V{"pi is 3.14 today"});
  CHECK(electra::split_sentences("글쎄… 모르겠다") == V{"글쎄…", "모르겠다"});
  CHECK(electra::split_sentences("좋다。 나쁘다！ 왜？ 몰라") == V{"좋다。", "나쁘다！", "왜？", "몰라"});
  CHECK(electra::split_sentences("「좋아。」 그래") == V{"「좋아。」", "그래"});
  CHECK(electra::split_sentences("  leading and trailing.   ") == V{"leading and trailing."});
  CHECK(electra::split_sentences("?! ... !") == V{"?!", "...", "!"});
  CHECK(electra::split_sentences("").empty());
  CHECK(electra::split_sentences("   ").empty());
  CHECK(electra::split_sentences("no terminator at all") == V{"no terminator at all"});
}

TEST_CASE("ExampleBuilder packs like build_pretraining_dataset.py", "[corpus]") {
  CorpusOptions options;
  options.max_seq_length = 12;
  options.short_seq_prob = 0;
  options.single_segment_prob = 0;
  const int32_t cls = 2, sep = 3;
  PretrainingExample e;

  SECTION("two segments: A up to (12 - 3) / 2 = 4 tokens, B cut to 12 - 4 - 3 = 5") {
    ExampleBuilder builder(options, cls, sep, 7);
    CHECK_FALSE(builder.add_sentence({10, 11, 12, 13}, e));
    CHECK_FALSE(builder.add_sentence({14, 15, 16}, e));
    REQUIRE(builder.add_sentence({17, 18, 19, 20, 21, 22, 23}, e));  // 14 >= 12
    CHECK(e.input_ids == std::vector<int32_t>{cls, 10, 11, 12, 13, sep, 14, 15, 16, 17, 18, sep});
    CHECK(e.first_segment_length == 6);
    CHECK_FALSE(builder.end_document(e));  // nothing pending
  }
  SECTION("single segment: everything in A, cut to 12 - 2 = 10") {
    options.single_segment_prob = 1;
    ExampleBuilder builder(options, cls, sep, 7);
    CHECK_FALSE(builder.add_sentence({10, 11, 12, 13}, e));
    REQUIRE(builder.add_sentence({14, 15, 16, 17, 18, 19, 20, 21}, e));
    CHECK(e.input_ids == std::vector<int32_t>{cls, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, sep});
    CHECK(e.first_segment_length == 12);
  }
  SECTION("a document end flushes a short example; empty sentences are ignored") {
    ExampleBuilder builder(options, cls, sep, 7);
    CHECK_FALSE(builder.add_sentence({}, e));
    CHECK_FALSE(builder.end_document(e));
    CHECK_FALSE(builder.add_sentence({10, 11}, e));
    CHECK_FALSE(builder.add_sentence({12}, e));
    REQUIRE(builder.end_document(e));
    // A = [10, 11]; [12] keeps A under 4 tokens: A too; no B, no second [SEP].
    CHECK(e.input_ids == std::vector<int32_t>{cls, 10, 11, 12, sep});
    CHECK(e.first_segment_length == 5);
  }
  SECTION("a sentence crossing A's target goes to A about half of the time") {
    int to_first = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      ExampleBuilder builder(options, cls, sep, seed);
      builder.add_sentence({10, 11}, e);
      builder.add_sentence({12, 13, 14}, e);  // 2 + 3 >= 4, A (2) is under 4, B empty: the coin decides
      REQUIRE(builder.end_document(e));
      to_first += e.first_segment_length == 7;
      CHECK((e.first_segment_length == 7 || e.first_segment_length == 4));
    }
    CHECK(to_first > 60);
    CHECK(to_first < 140);
  }
  SECTION("short_seq_prob 1: targets in [5, max]") {
    options.short_seq_prob = 1;
    options.max_seq_length = 64;
    ExampleBuilder builder(options, cls, sep, 3);
    CHECK(builder.target_length() == 64);  // the first example targets max_seq_length
    std::vector<int64_t> targets;
    for (int i = 0; i < 200; ++i) {
      builder.add_sentence(std::vector<int32_t>(70, 9), e);
      CHECK(static_cast<int64_t>(e.input_ids.size()) <= 64);
      targets.push_back(builder.target_length());
    }
    CHECK(*std::min_element(targets.begin(), targets.end()) >= 5);
    CHECK(*std::max_element(targets.begin(), targets.end()) <= 64);
    CHECK(*std::min_element(targets.begin(), targets.end()) < 20);
    CHECK(*std::max_element(targets.begin(), targets.end()) > 50);
  }
  SECTION("bad options") {
    options.max_seq_length = 4;
    CHECK_THROWS_AS(ExampleBuilder(options, cls, sep, 0), std::invalid_argument);
    options.max_seq_length = 12;
    options.document_format = "paragraph";
    CHECK_THROWS_AS(ExampleBuilder(options, cls, sep, 0), std::invalid_argument);
  }
}

TEST_CASE("PretrainingStream packs text files", "[corpus]") {
  TempDir dir("corpus_text");
  const fs::path file = dir.path / "corpus.txt";
  write_text(file, "the cat is on the mat.\r\nthe file is not found.\n\n\nerror.\n\n");
  CorpusOptions options;
  options.files = {file};
  options.max_seq_length = 12;
  options.short_seq_prob = 0;
  options.single_segment_prob = 0;
  options.shuffle_buffer = 0;
  const auto cat = ids({"the", "cat", "is", "on", "the", "mat", "."});
  const auto found = ids({"the", "file", "is", "not", "found", "."});
  const auto err = ids({"error", "."});
  const auto cls = static_cast<int32_t>(tokenizer().cls_id()), sep = static_cast<int32_t>(tokenizer().sep_id());
  auto example = [&](std::vector<int32_t> a, std::vector<int32_t> b) {
    PretrainingExample e;
    e.input_ids.push_back(cls);
    e.input_ids.insert(e.input_ids.end(), a.begin(), a.end());
    e.input_ids.push_back(sep);
    e.first_segment_length = static_cast<int32_t>(e.input_ids.size());
    if (!b.empty()) {
      e.input_ids.insert(e.input_ids.end(), b.begin(), b.end());
      e.input_ids.push_back(sep);
    }
    return e;
  };

  SECTION("blank_line: 7 + 6 tokens reach 12; A keeps its 7 (over (12 - 3) / 2), B is cut to 12 - 7 - 3 = 2") {
    const auto examples = read_all(options, 0);
    REQUIRE(examples.size() == 2);
    CHECK(same(examples[0], example(cat, {found[0], found[1]})));
    CHECK(examples[0].input_ids.size() == 12);
    CHECK(same(examples[1], example(err, {})));  // the blank line ends the document
  }
  SECTION("line: every line is a document, blank lines are skipped") {
    options.document_format = "line";
    const auto examples = read_all(options, 0);
    REQUIRE(examples.size() == 3);
    CHECK(same(examples[0], example(cat, {})));
    CHECK(same(examples[1], example(found, {})));
    CHECK(same(examples[2], example(err, {})));
  }
  SECTION("sentence splitting inside a line") {
    write_text(file, "the cat is on the mat. the file is not found.\n");
    const auto split = read_all(options, 0);
    REQUIRE(split.size() == 1);
    CHECK(same(split[0], example(cat, {found[0], found[1]})));
    options.split_sentences = false;  // one sentence of 13 tokens: A, cut to 10
    const auto whole = read_all(options, 0);
    REQUIRE(whole.size() == 1);
    std::vector<int32_t> a = cat;
    a.insert(a.end(), found.begin(), found.begin() + 3);
    CHECK(same(whole[0], example(a, {})));
  }
  SECTION("several files: each ends a document") {
    const fs::path second = dir.path / "second.txt";
    write_text(second, "error.");
    options.files = {second, file};
    const auto examples = read_all(options, 0);
    REQUIRE(examples.size() == 3);
    CHECK(same(examples[0], example(err, {})));
  }
}

TEST_CASE("PretrainingStream is deterministic, shuffles per epoch and skips", "[corpus]") {
  TempDir dir("corpus_determinism");
  const fs::path file = dir.path / "corpus.txt";
  write_text(file, synthetic_corpus(300));
  CorpusOptions options;
  options.files = {file};
  options.max_seq_length = 32;
  options.short_seq_prob = 0.2;
  options.shuffle_buffer = 64;
  options.queue_capacity = 8;
  options.seed = 11;

  const auto first = read_all(options, 0);
  REQUIRE(first.size() > 100);
  check_well_formed(first, 32);
  CHECK(same(read_all(options, 0), first));  // same seed and epoch: the same examples in the same order
  for (int64_t capacity : {1, 2, 3, 100, 5000}) {  // the queue's size changes nothing but the speed
    options.queue_capacity = capacity;
    CHECK(same(read_all(options, 0), first));
  }
  options.queue_capacity = 8;
  const auto epoch1 = read_all(options, 1);
  CHECK_FALSE(same(epoch1, first));
  check_well_formed(epoch1, 32);
  options.seed = 12;
  CHECK_FALSE(same(read_all(options, 0), first));
  options.seed = 11;

  SECTION("without a shuffle buffer the order is the file's; the buffer only reorders") {
    options.shuffle_buffer = 0;
    const auto ordered = read_all(options, 0);
    CHECK_FALSE(same(ordered, first));
    CHECK(sorted(ordered) == sorted(first));
  }
  SECTION("skip(n) equals n calls of next") {
    PretrainingStream stream(tokenizer(), options, 0);
    stream.skip(37);
    CHECK(stream.produced() == 37);
    PretrainingExample e;
    REQUIRE(stream.next(e));
    CHECK(same(e, first[37]));
    stream.skip(1000000);  // past the end: stops there
    CHECK(stream.produced() == static_cast<int64_t>(first.size()));
    CHECK_FALSE(stream.next(e));
    CHECK(stream.wait_seconds() >= 0);
  }
}

TEST_CASE("prepare_shards round trip", "[corpus]") {
  TempDir dir("corpus_shards");
  const fs::path file = dir.path / "corpus.txt";
  write_text(file, synthetic_corpus(120));
  const fs::path shards = dir.path / "shards";
  CorpusOptions options;
  options.files = {file};
  options.max_seq_length = 24;
  options.seed = 5;
  options.shuffle_buffer = 0;
  const auto text_epoch0 = read_all(options, 0);

  CHECK_FALSE(electra::is_shard_dir(shards));
  const auto summary = electra::prepare_shards(tokenizer(), options, shards, 20);
  CHECK(electra::is_shard_dir(shards));
  CHECK(summary.examples == static_cast<int64_t>(text_epoch0.size()));
  CHECK(summary.shards == (summary.examples + 19) / 20);
  CHECK(summary.documents == 120);
  int64_t tokens = 0;
  for (const auto& e : text_epoch0) tokens += static_cast<int64_t>(e.input_ids.size());
  CHECK(summary.tokens == tokens);
  const auto manifest = nlohmann::json::parse(electra::read_file(shards / "shards.json"));
  CHECK(manifest["vocab_size"] == tokenizer().vocab_size());
  CHECK(manifest["vocab_sha256"] == electra::vocab_fingerprint(tokenizer()));
  CHECK(manifest["shards"].size() == static_cast<size_t>(summary.shards));
  CHECK(manifest["shards"][0]["file"] == "shard-00000.bin");
  CHECK(manifest["shards"][0]["bytes"] == fs::file_size(shards / "shard-00000.bin"));

  CorpusOptions from_shards = options;
  from_shards.files = {shards};
  SECTION("unshuffled: epoch 0's packing in order") { CHECK(same(read_all(from_shards, 0), text_epoch0)); }
  SECTION("shuffled per epoch: the same multiset of examples") {
    from_shards.shuffle_buffer = 30;
    const auto a = read_all(from_shards, 3), b = read_all(from_shards, 4);
    CHECK(sorted(a) == sorted(text_epoch0));
    CHECK(sorted(b) == sorted(text_epoch0));
    CHECK_FALSE(same(a, b));
    CHECK(same(read_all(from_shards, 3), a));
  }
  SECTION("a run with a shorter max_seq_length is refused") {
    from_shards.max_seq_length = 16;
    CHECK(contains(error_of([&] { PretrainingStream s(tokenizer(), from_shards, 0); }), "max_seq_length 24"));
  }
  SECTION("a truncated shard is refused, naming it") {
    const fs::path shard = shards / "shard-00001.bin";
    fs::resize_file(shard, fs::file_size(shard) - 3);
    const std::string message = error_of([&] { PretrainingStream s(tokenizer(), from_shards, 0); });
    CHECK(contains(message, shard.string()));
    CHECK(contains(message, "truncated"));
  }
  SECTION("a shard with a bad magic is refused") {
    std::string bytes = electra::read_file(shards / "shard-00000.bin");
    bytes[0] = 'X';
    write_text(shards / "shard-00000.bin", bytes);
    CHECK(contains(error_of([&] { PretrainingStream s(tokenizer(), from_shards, 0); }), "shard-00000.bin: not a shard"));
  }
  SECTION("a corrupt example of the right size surfaces in next()") {
    std::string bytes = electra::read_file(shards / "shard-00000.bin");
    bytes[16] = '\xff';  // the first example's length: 0x..ff, over max_seq_length
    bytes[17] = '\x7f';
    write_text(shards / "shard-00000.bin", bytes);
    PretrainingStream stream(tokenizer(), from_shards, 0);
    const std::string message = error_of([&] {
      for (PretrainingExample e; stream.next(e);) {
      }
    });
    CHECK(contains(message, "shard-00000.bin: corrupt shard at byte 16"));
  }
  SECTION("a missing shard is refused") {
    fs::remove(shards / "shard-00002.bin");
    CHECK(contains(error_of([&] { PretrainingStream s(tokenizer(), from_shards, 0); }), "shard-00002.bin"));
  }
  SECTION("another vocabulary is refused") {
    std::string vocab = electra::read_file(kVocab);
    vocab.replace(vocab.find("\nthe\n"), 5, "\nthee\n");
    write_text(dir.path / "vocab.txt", vocab);
    const Tokenizer other = Tokenizer::from_files(dir.path / "vocab.txt", std::nullopt);
    const std::string message = error_of([&] { PretrainingStream s(other, from_shards, 0); });
    CHECK(contains(message, (shards / "shards.json").string()));
    CHECK(contains(message, "another vocabulary"));
  }
  SECTION("preparing again replaces the manifest") {
    const auto again = electra::prepare_shards(tokenizer(), options, shards, 1000);
    CHECK(again.shards == 1);
    CHECK(sorted(read_all(from_shards, 0)) == sorted(text_epoch0));
    CHECK_FALSE(fs::exists(shards / ".preparing"));
  }
  SECTION("preparing again from a corpus with a bad line keeps the corpus that was there") {
    const std::string manifest = electra::read_file(shards / "shards.json");
    write_text(dir.path / "bad.txt", "the cat is on the mat.\nthe \xC3\x28 cat\n");
    CorpusOptions bad = options;
    bad.files = {dir.path / "bad.txt"};
    CHECK_THROWS_AS(electra::prepare_shards(tokenizer(), bad, shards, 20), std::runtime_error);
    CHECK(electra::read_file(shards / "shards.json") == manifest);
    CHECK(sorted(read_all(from_shards, 0)) == sorted(text_epoch0));
    CHECK_FALSE(fs::exists(shards / ".preparing"));
  }
}

TEST_CASE("PretrainingStream errors name the file and line", "[corpus]") {
  TempDir dir("corpus_errors");
  CorpusOptions options;
  options.shuffle_buffer = 16;

  SECTION("missing file") {
    options.files = {dir.path / "absent.txt"};
    CHECK(contains(error_of([&] { PretrainingStream s(tokenizer(), options, 0); }), "absent.txt"));
  }
  SECTION("a folder that is not a prepared corpus") {
    fs::create_directories(dir.path / "folder");
    options.files = {dir.path / "folder"};
    const std::string message = error_of([&] { PretrainingStream s(tokenizer(), options, 0); });
    CHECK(contains(message, (dir.path / "folder").string()));
    CHECK(contains(message, "a folder"));
    CHECK_THROWS_AS(electra::prepare_shards(tokenizer(), options, dir.path / "out"), std::runtime_error);
  }
  SECTION("invalid UTF-8 after many good lines surfaces in next() with file and line") {
    std::string text;
    for (int i = 0; i < 499; ++i) text += "the cat is on the mat.\n";
    text += "the \xC3\x28 cat\n";
    write_text(dir.path / "bad.txt", text);
    options.files = {dir.path / "bad.txt"};
    PretrainingStream stream(tokenizer(), options, 0);
    const std::string message = error_of([&] {
      for (PretrainingExample e; stream.next(e);) {
      }
    });
    CHECK(contains(message, (dir.path / "bad.txt").string() + ", line 500"));
    CHECK_THROWS_AS(electra::prepare_shards(tokenizer(), options, dir.path / "out"), std::runtime_error);
    CHECK_FALSE(electra::is_shard_dir(dir.path / "out"));
  }
  SECTION("bad options") {
    write_text(dir.path / "ok.txt", "fine.\n");
    options.files = {dir.path / "ok.txt"};
    options.document_format = "paragraphs";
    CHECK_THROWS_AS(PretrainingStream(tokenizer(), options, 0), std::invalid_argument);
    options.document_format = "line";
    options.files.clear();
    CHECK_THROWS_AS(PretrainingStream(tokenizer(), options, 0), std::invalid_argument);
  }
}

TEST_CASE("PretrainingStream destroyed mid-way returns promptly", "[corpus]") {
  TempDir dir("corpus_destroy");
  const fs::path file = dir.path / "corpus.txt";
  write_text(file, synthetic_corpus(20000));
  CorpusOptions options;
  options.files = {file};
  options.queue_capacity = 4;
  options.shuffle_buffer = 8;
  auto seconds_since = [](std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto start = std::chrono::steady_clock::now();
  const auto all = read_all(options, 0);
  const double full_pass = seconds_since(start);
  REQUIRE(all.size() > 10000);
  for (int read : {0, 1, 50}) {
    start = std::chrono::steady_clock::now();
    {
      PretrainingStream stream(tokenizer(), options, 0);
      stream.skip(read);
      CHECK(stream.produced() == read);
    }
    // The producer stops where it is instead of finishing the pass.
    CHECK(seconds_since(start) < 0.25 * full_pass);
  }
}
