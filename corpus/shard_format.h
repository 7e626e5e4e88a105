// Prepared shards (`electra pretrain --prepare`): prepare_shards writes a corpus's packed examples once as binary
// shard files plus shards.json; read_shard_manifest and ShardReader check and read them back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "corpus/corpus_options.h"

namespace electra {

class Tokenizer;

// What `electra pretrain --prepare` wrote. documents: documents with at least one non-blank line; lines: lines read.
struct ShardSummary {
  std::filesystem::path dir;
  int64_t shards = 0, examples = 0, tokens = 0, documents = 0, lines = 0;
};

// Tokenizes and packs the corpus once (epoch 0's packing, no shuffle) into DIR/shard-NNNNN.bin files of at most
// `examples_per_shard` examples plus DIR/shards.json (format version, the vocabulary's size and fingerprint (sha256 of
// its tokens in id order), max_seq_length, counts). A PretrainingStream given DIR reads the shards and shuffles them
// per epoch instead of tokenizing. Written atomically: a folder without shards.json is not a prepared corpus.
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

// Reading back; used by PretrainingStream and prepare_shards.

struct ShardFile {
  std::filesystem::path path;
  int64_t examples = 0;
  uint64_t bytes = 0;
};

struct ShardManifest {
  std::filesystem::path dir;
  int64_t max_seq_length = 0;
  std::vector<ShardFile> shards;
};

// DIR/shards.json, checked against this run (same vocabulary, max_seq_length not longer than options') and each
// shard's size and header checked. Throws std::runtime_error naming the file and what is wrong.
ShardManifest read_shard_manifest(const std::filesystem::path& dir, const Tokenizer& tokenizer,
                                  const CorpusOptions& options);

// One shard file, read example by example.
class ShardReader {
 public:
  // Throws std::runtime_error("cannot read <file>").
  ShardReader(const ShardFile& shard, int64_t max_seq_length);
  // The next example; false at the end. Throws std::runtime_error naming the file, byte and example of a corrupt one.
  bool next(PretrainingExample& out);

 private:
  [[noreturn]] void corrupt(const std::string& what) const;

  ShardFile shard_;
  int64_t max_;
  std::ifstream in_;
  std::vector<unsigned char> buffer_;
  uint64_t offset_ = 0;
  int64_t count_ = 0;
};

// What options.files resolve to, each: a text file, or a prepared folder's shards.
struct CorpusInput {
  std::filesystem::path text;  // empty for shards
  ShardManifest shards;
};

// Throws std::invalid_argument for no files, std::runtime_error naming a file that is missing, unreadable, a folder
// without shards.json, or a prepared folder that read_shard_manifest refuses.
std::vector<CorpusInput> resolve_inputs(const Tokenizer& tokenizer, const CorpusOptions& options);

}  // namespace electra
