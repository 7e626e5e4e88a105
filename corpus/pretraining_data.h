// Pre-training data: corpus text -> packed `[CLS] A [SEP] (B [SEP])` examples the way ELECTRA's
// build_pretraining_dataset.py packs them (ExampleBuilder), streamed from files larger than memory, or read back from
// prepared binary shards (`electra pretrain --prepare`) so that tokenization is not redone each epoch.
// Core layer: no tensor here; the pre-training loop (pretrain/) turns examples into batches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
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
  int64_t queue_capacity = 4096;     // examples the producer thread may hold ready for next()
};

// Throws std::invalid_argument for options that cannot be used (unknown document_format, max_seq_length outside
// [5, 65535], probabilities outside [0, 1], queue_capacity < 1).
void validate(const CorpusOptions& options);

// One example: input_ids = [CLS] A [SEP] (B [SEP]), at most max_seq_length ids, no padding.
struct PretrainingExample {
  std::vector<int32_t> input_ids;
  int32_t first_segment_length = 0;  // ids of [CLS] A [SEP] (token type 0); the rest have token type 1
};

// Splits one line into sentences: after a run of terminators (. ! ? … 。 ！ ？, "재밌어요.." keeps both dots) and the
// closing quotes/brackets right after it, when whitespace follows. Sentences are trimmed; none is empty.
std::vector<std::string> split_sentences(const std::string& line);

// The seed of epoch `epoch`'s packing and shuffle (splitmix64 of both): epochs of one seed differ, runs do not.
uint64_t epoch_seed(uint64_t seed, int64_t epoch);

// Packs sentences' token ids into examples the way ExampleBuilder of ELECTRA's build_pretraining_dataset.py does:
// sentences accumulate until their length reaches the target length (max_seq_length, or with short_seq_prob a random
// length in [5, max_seq_length] after each example); then with single_segment_prob every sentence goes to segment A,
// else A takes sentences up to (target - 3) / 2 tokens (a sentence that would cross that bound goes to A with
// chance 1/2 while B is empty and A is short of it) and B the rest; A is cut to max - 2 and B to max - |A| - 3 tokens.
// Every random choice comes from a std::mt19937_64 seeded with `seed`. Sentences without tokens are ignored.
class ExampleBuilder {
 public:
  ExampleBuilder(const CorpusOptions& options, int32_t cls_id, int32_t sep_id, uint64_t seed);
  // Adds one sentence; true (and `out` filled) when it completed an example.
  bool add_sentence(const std::vector<int32_t>& ids, PretrainingExample& out);
  // Ends a document: true (and `out` filled) when sentences were pending.
  bool end_document(PretrainingExample& out);
  int64_t target_length() const { return target_length_; }

 private:
  void create_example(PretrainingExample& out);
  double uniform();  // [0, 1), the same on every platform (std distributions are not)

  int64_t max_length_, target_length_;
  double short_seq_prob_, single_segment_prob_;
  int32_t cls_id_, sep_id_;
  std::vector<std::vector<int32_t>> sentences_;
  int64_t length_ = 0;
  std::mt19937_64 rng_;
};

// Examples of one pass ("epoch") over the corpus, produced by a background thread (tokenizing and packing) into a
// bounded queue, so the training loop does not wait on the data. The packing and shuffle of epoch `epoch` depend on
// (options.seed, epoch) only: the same options give the same examples in the same order on every run and machine.
class PretrainingStream {
 public:
  // Throws std::runtime_error naming the file that cannot be read (missing, a folder without shards.json, a shard
  // whose header or size is wrong or whose vocabulary differs from `tokenizer`'s, shards packed for a longer
  // max_seq_length); what only reading shows (not UTF-8 at line N, a corrupt example) is thrown by next().
  // `tokenizer` must outlive the stream. Files are read in the order given, each ending a document; the shards of a
  // prepared folder in an order shuffled per epoch (file order when shuffle_buffer <= 1).
  PretrainingStream(const Tokenizer& tokenizer, const CorpusOptions& options, int64_t epoch);
  ~PretrainingStream();  // stops and joins the producer promptly, wherever it is
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

// What `electra pretrain --prepare` wrote. documents: documents with at least one non-blank line; lines: lines read.
struct ShardSummary {
  std::filesystem::path dir;
  int64_t shards = 0, examples = 0, tokens = 0, documents = 0, lines = 0;
};

// Tokenizes and packs the corpus once (epoch 0's packing, no shuffle) into DIR/shard-NNNNN.bin files of at most
// `examples_per_shard` examples plus DIR/shards.json (format version, the vocabulary's size and fingerprint (sha256 of
// its tokens in id order), max_seq_length, counts). A PretrainingStream given DIR reads the shards and shuffles them per epoch instead of
// tokenizing. Written atomically: a folder without shards.json is not a prepared corpus.
//
// Shard file format (all integers little-endian):
//   header, 16 bytes: magic "ELECSHRD", uint32 format version (1), uint32 max_seq_length
//   then per example: uint16 length, uint16 first_segment_length, `length` x uint32 input ids
// shards.json: {"format": "electra-pretraining-shards", "version": 1, "vocab_size", "vocab_sha256" (sha256 of the
// tokens in id order joined by "\n"), "max_seq_length", "examples", "tokens", "documents", "lines",
// "shards": [{"file", "examples", "bytes"}], "options": {the packing options}}.
// An existing shards.json in DIR is removed first; other files in DIR are left alone.
ShardSummary prepare_shards(const Tokenizer& tokenizer, const CorpusOptions& options, const std::filesystem::path& dir,
                            int64_t examples_per_shard = 100000);
bool is_shard_dir(const std::filesystem::path& path);  // a folder holding shards.json
// sha256 of the vocabulary's tokens in id order joined by "\n" (the shards' vocab_sha256).
std::string vocab_fingerprint(const Tokenizer& tokenizer);

}  // namespace electra
