// Pre-training data: corpus text -> packed `[CLS] A [SEP] (B [SEP])` examples the way ELECTRA's
// build_pretraining_dataset.py packs them (ExampleBuilder), streamed from files larger than memory, or read back from
// prepared binary shards (`electra pretrain --prepare`) so that tokenization is not redone each epoch.
// Core layer: no tensor here; the pre-training loop (pretrain/) turns examples into batches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace electra {

class Tokenizer;

struct CorpusOptions {
  std::vector<std::filesystem::path> files;  // UTF-8 text files, or prepared shard folders (see is_shard_dir)
  // "blank_line": one sentence or paragraph per line and a blank line between documents (BERT's and ELECTRA's
  // format); "line": one document per line (reviews, comments: NSMC's documents).
  std::string document_format = "blank_line";
  bool split_sentences = true;       // a line is split into sentences before packing
  int64_t max_seq_length = 128;      // tokens of an example, [CLS] and [SEP]s included
  double short_seq_prob = 0.05;      // chance that the next example targets a random length in [5, max_seq_length]
  double single_segment_prob = 0.1;  // chance that an example puts every sentence in its first segment
  int64_t shuffle_buffer = 10000;    // examples held to shuffle the stream; <= 1: file order
  uint64_t seed = 0;
};

// One example: input_ids = [CLS] A [SEP] (B [SEP]), at most max_seq_length ids, no padding.
struct PretrainingExample {
  std::vector<int32_t> input_ids;
  int32_t first_segment_length = 0;  // ids of [CLS] A [SEP] (token type 0); the rest have token type 1
};

// Splits one line into sentences (after . ! ? … 。 and their closing quotes/brackets, when whitespace follows).
std::vector<std::string> split_sentences(const std::string& line);

// Examples of one pass ("epoch") over the corpus, produced by a background thread (tokenizing and packing) into a
// bounded queue, so the training loop does not wait on the data. The packing and shuffle of epoch `epoch` depend on
// (options.seed, epoch) only: the same options give the same examples in the same order on every run and machine.
class PretrainingStream {
 public:
  // Throws std::runtime_error naming the file that cannot be read (missing, a folder, not UTF-8 at line N, a shard
  // whose header or size is wrong or whose vocabulary differs from `tokenizer`'s).
  PretrainingStream(const Tokenizer& tokenizer, const CorpusOptions& options, int64_t epoch);
  ~PretrainingStream();
  PretrainingStream(const PretrainingStream&) = delete;
  PretrainingStream& operator=(const PretrainingStream&) = delete;

  // The next example; false once the pass is over. Rethrows the producer's error.
  bool next(PretrainingExample& out);
  // Drops the next n examples (a resumed run skips what it trained on in this epoch).
  void skip(int64_t n);
  int64_t produced() const;       // examples handed out by next() (skipped ones included)
  double wait_seconds() const;    // seconds next() spent waiting for the producer

 private:
  struct State;  // the producer thread, its queue and the shuffle buffer
  std::unique_ptr<State> state_;
};

// What `electra pretrain --prepare` wrote.
struct ShardSummary {
  std::filesystem::path dir;
  int64_t shards = 0, examples = 0, tokens = 0, documents = 0, lines = 0;
};

// Tokenizes and packs the corpus once (epoch 0's packing, no shuffle) into DIR/shard-NNNNN.bin files of at most
// `examples_per_shard` examples plus DIR/shards.json (format version, the vocabulary's size and fingerprint (sha256 of
// its tokens in id order), max_seq_length, counts). A PretrainingStream given DIR reads the shards and shuffles them per epoch instead of
// tokenizing. Written atomically: a folder without shards.json is not a prepared corpus.
ShardSummary prepare_shards(const Tokenizer& tokenizer, const CorpusOptions& options, const std::filesystem::path& dir,
                            int64_t examples_per_shard = 100000);
bool is_shard_dir(const std::filesystem::path& path);

}  // namespace electra
