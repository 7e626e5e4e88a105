// Pre-training data: corpus text -> packed `[CLS] A [SEP] (B [SEP])` examples the way ELECTRA's
// build_pretraining_dataset.py packs them, streamed or read back from prepared shards; this header gathers the parts.
// Core layer: no tensor here; the pre-training loop (pretrain/) turns examples into batches. The parts, one job each:
//   corpus_options.h     CorpusOptions, PretrainingExample, epoch_seed
//   sentences.h          a line into sentences
//   example_builder.h    sentences' token ids into examples (ExampleBuilder)
//   text_source.h        text files -> examples (internal)
//   shard_format.h       prepare_shards and the shard files' format and reader
//   pretraining_stream.h one epoch's examples from a producer thread (PretrainingStream)
#pragma once

#include "corpus/corpus_options.h"
#include "corpus/example_builder.h"
#include "corpus/pretraining_stream.h"
#include "corpus/sentences.h"
#include "corpus/shard_format.h"
