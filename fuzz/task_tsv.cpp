// The Korean sentence tasks' TSV readers (header layouts, CSV quoting, PAWS placeholders, regression scores).
#include "fuzz/task_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return electra::fuzz::read_task_file({"nsmc", "paws", "kornli", "korsts", "question-pair", "hate-speech"},
                                       "data.tsv", data, size);
}
