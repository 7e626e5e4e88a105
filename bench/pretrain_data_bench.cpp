// Pre-training data throughput: examples/s and tokens/s (ids of packed examples, [CLS]/[SEP] included) of
// (a) a PretrainingStream over raw text (read, split, tokenize, pack, shuffle in its producer thread),
// (b) prepare_shards over the same text, (c) a PretrainingStream over the prepared shards.
//   pretrain_data_bench [--vocab vocab.txt] [--text FILE]... [--tsv FILE]... [--format line|blank_line]
//                       [--max-seq-length 128] [--repeat N] [--shuffle-buffer 10000]
// --tsv FILE takes the `document` column of an NSMC-style file (id<TAB>document<TAB>label, header line); --repeat
// copies the corpus N times into the temporary text file. Default: the documents of examples/data/nsmc-reviews, one
// document per line ("line" format), with the test vocabulary.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/files.h"
#include "corpus/pretraining_data.h"
#include "tokenizer/tokenizer.h"
#include "common/source_dir.h"

namespace {

namespace fs = std::filesystem;

struct Args {
  std::string vocab = std::string(electra::source_dir()) + "/tests/fixtures/tokenizer/vocab.txt";
  std::vector<std::string> text, tsv;
  std::string format = "line";
  int64_t max_seq_length = 128, shuffle_buffer = 10000;
  int repeat = 1;
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
    } else if (flag == "--text") {
      args.text.push_back(value());
    } else if (flag == "--tsv") {
      args.tsv.push_back(value());
    } else if (flag == "--format") {
      args.format = value();
    } else if (flag == "--max-seq-length") {
      args.max_seq_length = std::stoll(value());
    } else if (flag == "--shuffle-buffer") {
      args.shuffle_buffer = std::stoll(value());
    } else if (flag == "--repeat") {
      args.repeat = std::max(1, std::stoi(value()));
    } else {
      throw std::invalid_argument(fmt::format(
          "unknown flag '{}' (known: --vocab FILE, --text FILE, --tsv FILE, --format line|blank_line, "
          "--max-seq-length N, --shuffle-buffer N, --repeat N)",
          flag));
    }
  }
  if (args.text.empty() && args.tsv.empty()) {
    const std::string dir = std::string(electra::source_dir()) + "/examples/data/nsmc-reviews/";
    args.tsv = {dir + "ratings_train.txt", dir + "ratings_test.txt"};
  }
  return args;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

struct Pass {
  int64_t examples = 0, tokens = 0;
  double seconds = 0, waited = 0;
};

Pass read_stream(const electra::Tokenizer& tokenizer, const electra::CorpusOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  electra::PretrainingStream stream(tokenizer, options, 0);
  Pass pass;
  for (electra::PretrainingExample e; stream.next(e);) {
    ++pass.examples;
    pass.tokens += static_cast<int64_t>(e.input_ids.size());
  }
  pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pass.waited = stream.wait_seconds();
  return pass;
}

void report(const char* what, const Pass& pass) {
  fmt::print("{:<28} {:>9} examples {:>11} tokens in {:7.3f} s: {:>10.0f} examples/s {:>12.0f} tokens/s "
             "(next() waited {:.3f} s; peak RSS so far {:.0f} MB)\n",
             what, pass.examples, pass.tokens, pass.seconds, pass.examples / pass.seconds, pass.tokens / pass.seconds,
             pass.waited, peak_rss_mb());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    const fs::path work = fs::temp_directory_path() / fmt::format("pretrain_data_bench_{}", ::getpid());
    fs::create_directories(work);
    const fs::path corpus = work / "corpus.txt";
    {
      std::ofstream out(corpus, std::ios::binary);
      for (int r = 0; r < args.repeat; ++r) {
        for (const std::string& file : args.tsv) {
          std::ifstream in(file, std::ios::binary);
          if (!in) throw std::runtime_error(fmt::format("cannot read {}", file));
          std::string line;
          std::getline(in, line);  // header
          while (std::getline(in, line)) {
            const auto a = line.find('\t'), b = line.rfind('\t');
            if (a == std::string::npos || b == a) continue;
            out << line.substr(a + 1, b - a - 1) << '\n';
          }
        }
        for (const std::string& file : args.text) out << electra::read_file(file) << '\n';
      }
      if (!out.flush()) throw std::runtime_error(fmt::format("cannot write {}", corpus.string()));
    }
    const electra::Tokenizer tokenizer = electra::Tokenizer::from_files(args.vocab, std::nullopt);
    electra::CorpusOptions options;
    options.files = {corpus};
    options.document_format = args.format;
    options.max_seq_length = args.max_seq_length;
    options.shuffle_buffer = args.shuffle_buffer;
    fmt::print("corpus: {:.2f} MB ({} tsv, {} text files, x{}), format {}, max_seq_length {}, shuffle_buffer {}, "
               "vocab {} ({} tokens)\n",
               fs::file_size(corpus) / 1e6, args.tsv.size(), args.text.size(), args.repeat, args.format,
               args.max_seq_length, args.shuffle_buffer, args.vocab, tokenizer.vocab_size());

    report("(a) stream from raw text", read_stream(tokenizer, options));

    const fs::path shards = work / "shards";
    auto start = std::chrono::steady_clock::now();
    const auto summary = electra::prepare_shards(tokenizer, options, shards);
    Pass prepare{summary.examples, summary.tokens,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0};
    report("    prepare_shards", prepare);
    fmt::print("    {} shards, {} documents, {} lines\n", summary.shards, summary.documents, summary.lines);

    options.files = {shards};
    report("(b) stream from shards", read_stream(tokenizer, options));
    electra::remove_tree(work);
  } catch (const std::exception& e) {
    fmt::print(stderr, "pretrain_data_bench: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
