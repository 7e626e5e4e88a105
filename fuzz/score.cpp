// `electra score`'s inputs: a gold file in the task's format and a predictions file (one per line, or a JSON
// object for QA), through score_prediction_file. Input: a flag byte (the task), gold @@@@ predictions.
#include <exception>
#include <string>

#include "fuzz/fuzz_support.h"
#include "tasks/scoring.h"
#include "tasks/task.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = electra::fuzz;
  static const char* const kTasks[] = {"nsmc", "korsts", "naver-ner", "korquad", "cola", "hate-speech"};
  const fz::Input in = fz::split_input(data, size, 2);
  if (in.parts.size() < 2) return 0;
  const electra::Task& task = electra::find_task(kTasks[in.flags % 6]);
  electra::ReadOptions options;
  options.skip_bad_rows = (in.flags & 0x80) != 0;
  const auto gold = fz::write_scratch("gold", in.parts[0]);
  const auto predictions = fz::write_scratch("predictions", in.parts[1]);
  try {
    (void)electra::score_prediction_file(task, gold, predictions, options);
  } catch (const std::exception&) {
  }
  return 0;
}
