// Single-thread WordPiece throughput: encodes every line of a corpus (repeated up to --mb megabytes) the way
// tokenizers' `encode_batch` is measured in docs: [CLS] text [SEP], no truncation, tokens counted with specials.
//   tokenizer_bench [--vocab vocab.txt] [--corpus lines.txt] [--mb 12] [--uncased] [--repeat 3]
// Defaults: the test vocabulary and bench/data/tokenizer_corpus_sample.txt: every 15th line of the corpus that
// vocabulary was trained on (English messages and their Korean translations from the gettext catalogs of a
// Debian system, about half the lines Korean), 200 KB; repeated, it stands in for the 12.6 MB reference run.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "common/source_dir.h"

namespace {

struct Args {
  std::string vocab = std::string(electra::source_dir()) + "/tests/fixtures/tokenizer/vocab.txt";
  std::string corpus = std::string(electra::source_dir()) + "/bench/data/tokenizer_corpus_sample.txt";
  double mb = 12.0;
  bool uncased = false;
  int repeat = 3;
};

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", flag));
      return argv[++i];
    };
    if (flag == "--vocab") {
      args.vocab = value();
    } else if (flag == "--corpus") {
      args.corpus = value();
    } else if (flag == "--mb") {
      args.mb = std::stod(value());
    } else if (flag == "--repeat") {
      args.repeat = std::max(1, std::stoi(value()));
    } else if (flag == "--uncased") {
      args.uncased = true;
    } else {
      throw std::invalid_argument(fmt::format(
          "unknown flag '{}' (known: --vocab FILE, --corpus FILE, --mb N, --repeat N, --uncased)", flag));
    }
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    std::ifstream in(args.corpus, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("cannot read {}", args.corpus));
    std::vector<std::string> sample;
    for (std::string line; std::getline(in, line);) sample.push_back(line);
    if (sample.empty()) throw std::runtime_error(fmt::format("{} has no lines", args.corpus));

    std::vector<std::string> corpus;  // the sample repeated until it reaches the requested size
    double bytes = 0;
    while (bytes < args.mb * 1e6) {
      for (const std::string& line : sample) {
        corpus.push_back(line);
        bytes += static_cast<double>(line.size() + 1);
      }
    }

    electra::TokenizerOptions options;
    options.do_lower_case = args.uncased;
    electra::Tokenizer files = electra::Tokenizer::from_files(args.vocab, std::nullopt);
    std::unordered_map<std::string, int64_t> vocab;
    for (int64_t id = 0; id < files.vocab_size(); ++id) vocab[files.id_to_token(id)] = id;
    const electra::Tokenizer tokenizer(std::move(vocab), options);
    const electra::EncodeOptions no_limit{0, electra::Truncation::none, electra::Padding::none};

    fmt::print("corpus: {} ({} lines) repeated to {} lines, {:.2f} MB; vocab {} ({}), {} runs\n", args.corpus,
               sample.size(), corpus.size(), bytes / 1e6, args.vocab, args.uncased ? "uncased" : "cased",
               args.repeat);
    double best = 1e300;
    size_t tokens = 0;
    for (int run = 0; run < args.repeat; ++run) {
      const auto start = std::chrono::steady_clock::now();
      size_t count = 0;
      for (const std::string& line : corpus) count += tokenizer.encode(line, std::nullopt, no_limit).input_ids.size();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      tokens = count;
      best = std::min(best, seconds);
      fmt::print("run {}: {} tokens in {:.3f} s: {:.0f} tokens/s, {:.2f} MB/s\n", run + 1, count, seconds,
                 count / seconds, bytes / 1e6 / seconds);
    }
    fmt::print("best: {:.0f} tokens/s, {:.2f} MB/s ({} tokens incl. [CLS]/[SEP], 1 thread)\n", tokens / best,
               bytes / 1e6 / best, tokens);
  } catch (const std::exception& e) {
    fmt::print(stderr, "tokenizer_bench: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
