// The Naver NER reader (word-level tags, one sentence per line).
#include "fuzz/task_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return electra::fuzz::read_task_file({"naver-ner"}, "data.tsv", data, size);
}
