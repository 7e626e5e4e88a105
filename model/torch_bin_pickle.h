// Restricted unpickler for the data.pkl of a torch.save'd state dict: knows only the opcodes and globals a
// state dict uses, calls nothing else, and refuses everything else by name.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <string>

#include "model/tensor_io.h"

namespace electra {

// Returns the 1-D storage `key` (data/<key> in the archive) holding `numel` elements of `dtype`.
using StorageLoader = std::function<at::Tensor(const std::string& key, at::ScalarType dtype, uint64_t numel)>;

// `where` prefixes every error message (e.g. "<file>: archive/data.pkl"). Tensors come back contiguous and
// owning their memory (two tensors never share storage).
TensorMap unpickle_state_dict(const std::string& pickle, const std::string& where, const StorageLoader& load);

}  // namespace electra
