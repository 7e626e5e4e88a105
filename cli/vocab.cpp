// `electra vocab`: trains a WordPiece vocabulary as tokenizers' BertWordPieceTokenizer.train does and writes a
// tokenizer directory (vocab.txt, tokenizer_config.json, special_tokens_map.json) that Tokenizer::from_dir loads.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/files.h"
#include "common/folder_lock.h"
#include "common/utf8.h"
#include "model/runtime.h"
#include "tokenizer/vocab_trainer.h"

namespace electra::cli {
namespace {

namespace fs = std::filesystem;

struct VocabArgs {
  std::vector<std::string> corpus;
  std::string output;
  bool force = false;
  std::string continuation_order_from;
  VocabTrainerOptions options;
};

// Whether `text` is exactly one UTF-8 code point.
bool one_code_point(std::string_view text) {
  if (text.empty()) return false;
  char32_t cp = 0;
  return utf8::decode(text, 0, cp) == text.size();
}

// The choices of a tokenizers run that depend on hash-map order, read from the vocab.txt it wrote: its "##c"
// tokens in file order (one prefix and one code point each), and its single-character tokens (the alphabet kept).
void reference_choices(const fs::path& vocab_txt, VocabTrainerOptions& options) {
  const std::string text = read_file(vocab_txt);
  const std::string& prefix = options.prefix;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > prefix.size() && line.substr(0, prefix.size()) == prefix) {
      if (one_code_point(line.substr(prefix.size()))) options.continuation_order.emplace_back(line);
    } else if (one_code_point(line)) {
      options.alphabet_kept.emplace_back(line);
    }
  }
}

void check_output(const fs::path& dir, bool force) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) {
    throw std::invalid_argument(fmt::format("--output {} exists and is not a directory", dir.string()));
  }
  const auto entries = list_directory(dir);
  const bool empty = std::all_of(entries.begin(), entries.end(),
                                 [](const fs::path& e) { return e.filename() == kFolderLockName; });
  if (!empty && !force) {
    throw std::invalid_argument(fmt::format(
        "--output {} exists and is not empty; give a new directory or --overwrite to replace its files", dir.string()));
  }
}

void run_vocab(VocabArgs& args) {
  VocabTrainerOptions& options = args.options;
  options.threads = cpu_threads();
  check_vocab_options(options);  // before the corpus is read
  const fs::path output(args.output);
  check_output(output, args.force);
  const FolderLock lock = FolderLock::acquire(output, "vocab");
  check_output(output, args.force);  // again: another run may have written it before we held it
  if (!args.continuation_order_from.empty()) {
    reference_choices(args.continuation_order_from, options);
  }
  const std::vector<fs::path> files(args.corpus.begin(), args.corpus.end());
  VocabTrainingStats stats;
  const WordCounts counts = count_words(files, options, &stats);
  fmt::print("counted {} words ({} distinct) in {} lines, {:.1f} MB, {:.2f} s: {:.0f} words/s, {:.1f} MB/s ({} threads)\n",
             stats.words, stats.distinct_words, stats.lines, stats.bytes / 1e6, stats.count_seconds,
             stats.words / std::max(stats.count_seconds, 1e-9), stats.bytes / 1e6 / std::max(stats.count_seconds, 1e-9),
             options.threads);
  const std::vector<std::string> vocab = train_vocab(counts, options, &stats);
  fmt::print("alphabet {} characters ({} dropped by --limit-alphabet), {} '{}' tokens, {} merges in {:.2f} s\n",
             stats.alphabet, stats.alphabet_dropped, stats.continuations, options.prefix, stats.merges,
             stats.merge_seconds);
  if (stats.stopped_by_min_frequency) {
    fmt::print("stopped at {} tokens (asked {}): no pair left seen at least --min-frequency {} times\n", vocab.size(),
               options.vocab_size, options.min_frequency);
  }
  write_vocab_dir(output, vocab, options);
  fmt::print("wrote {} tokens to {}\n", vocab.size(), (output / "vocab.txt").string());
}

}  // namespace

void add_vocab_command(CLI::App& app) {
  auto args = std::make_shared<VocabArgs>();
  auto* cmd = app.add_subcommand("vocab", "Train a WordPiece vocabulary on text files as Hugging Face tokenizers' "
                                          "BertWordPieceTokenizer.train does");
  cmd->add_option("--corpus", args->corpus, "Text files, read line by line (UTF-8)")->required()->expected(1, -1);
  cmd->add_option("--size", args->options.vocab_size, "Vocabulary size, special tokens included")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--lowercase,!--no-lowercase", args->options.lowercase, "Lowercase the text (default: on)");
  cmd->add_flag_function(
      "--strip-accents,!--no-strip-accents",
      [args](int64_t count) { args->options.strip_accents = count > 0; },
      "Strip accents (NFD, marks removed); default: follows --lowercase");
  cmd->add_option("--min-frequency", args->options.min_frequency, "Smallest pair count that still makes a merge")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit-alphabet", args->options.limit_alphabet,
                  "Keep at most this many characters, the most frequent (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--continuation-order-from", args->continuation_order_from,
                  "vocab.txt of a tokenizers run whose hash-map-order choices are taken, to reproduce that run: "
                  "the order of its '##c' tokens, and which characters tied at --limit-alphabet it kept");
  cmd->add_option("--output", args->output, "Directory for vocab.txt, tokenizer_config.json, special_tokens_map.json")
      ->required();
  cmd->add_flag("--overwrite,--force", args->force,
                "Overwrite the files of a non-empty --output directory (--force: the same, its earlier name)");
  cmd->callback([args] { run_vocab(*args); });
}

}  // namespace electra::cli
