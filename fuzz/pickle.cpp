// The data.pkl of a pytorch_model.bin on its own (no zip around it): the restricted unpickler, in memory.
// Storages are zero-filled tensors of the size the pickle asks for, bounded as the zip's records bound them.
#include <ATen/ATen.h>

#include <exception>
#include <stdexcept>
#include <string>

#include "model/torch_bin_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string pickle(reinterpret_cast<const char*>(data), size);
  const electra::StorageLoader load = [](const std::string& key, at::ScalarType dtype, uint64_t numel) {
    if (numel > 4096) throw std::runtime_error("storage '" + key + "' larger than the fuzz loader serves");
    return at::zeros({static_cast<int64_t>(numel)}, at::TensorOptions().dtype(dtype));
  };
  try {
    for (const auto& [name, tensor] : electra::unpickle_state_dict(pickle, "data.pkl", load)) {
      if (tensor.numel() > 0 && tensor.is_floating_point()) (void)tensor.sum().item<double>();
    }
  } catch (const std::exception&) {
  }
  return 0;
}
