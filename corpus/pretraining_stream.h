// Examples of one pass over the corpus (text files or prepared shards), packed and shuffled by a background
// producer thread into a bounded queue, the same for the same (options, epoch) on every run and machine.
#pragma once

#include <cstdint>
#include <memory>

#include "corpus/corpus_options.h"

namespace electra {

class Tokenizer;

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
  // Drops the next n examples (a resumed run skips what it trained on in this epoch). A stop signal ends it with
  // StoppedBySignal (common/stop_signal.h).
  void skip(int64_t n);
  int64_t produced() const;       // examples handed out by next() (skipped ones included)
  double wait_seconds() const;    // seconds next() spent waiting for the producer

 private:
  struct State;  // the producer thread, its queue and the shuffle buffer
  std::unique_ptr<State> state_;
};

}  // namespace electra
