// The GLUE readers (CoLA without a header, QQP's malformed rows, MNLI's many columns, STS-B scores).
#include "fuzz/task_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return electra::fuzz::read_task_file({"cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte"}, "data.tsv",
                                       data, size);
}
