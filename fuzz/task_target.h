// The body of the task-reader targets: the flag byte picks one of `tasks` and the read options, the rest is
// the file. What was read is then featurised with a small vocabulary and scored against itself, as training
// and `electra score` would use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace electra::fuzz {

int read_task_file(const std::vector<std::string>& tasks, const std::string& file_name, const uint8_t* data,
                   size_t size);

}  // namespace electra::fuzz
