// What the torch-layer tests share beyond tests/support.h: a tiny model config.
#pragma once

#include <cstdint>

#include "model/config.h"
#include "tests/support.h"

namespace electra::test {

// A small random-init shape: E=32, H=64, 2 layers, 4 heads, I=128, 64 positions, no dropout; `num_labels` default
// labels for a head architecture.
ElectraConfig tiny_config(int64_t vocab_size, Architecture architecture = Architecture::model, int64_t num_labels = 0);

}  // namespace electra::test
