// Pre-training's memory preflight (docs/memory.md): the estimate of a run's peak from its options and vocabulary
// size alone, printed in the run's first lines and by `pretrain --dump-config`, and checked before the model is
// built and the folder written.
#pragma once

#include <cstdint>
#include <string>

#include "pretrain/options.h"
#include "train/memory_estimate.h"

namespace electra {

// The estimate of `options` with a vocabulary of `vocab_size` entries on one of `world` ranks: the generator and the
// discriminator, micro-batches of train.batch_size / world / accumulation sequences of data.max_seq_length tokens.
MemoryEstimate pretrain_estimate(const PretrainOptions& options, int64_t vocab_size, int world, double baseline);

// The lines `pretrain --dump-config` appends (YAML comments): the estimate when `options.vocab` holds a vocab.txt.
std::string pretrain_memory_comment(const PretrainOptions& options);

}  // namespace electra
