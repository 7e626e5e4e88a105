// The KorQuAD / SQuAD JSON reader (answer texts and code point offsets), with the sliding-window featuriser.
#include "fuzz/task_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return electra::fuzz::read_task_file({"korquad", "squad"}, "data.json", data, size);
}
