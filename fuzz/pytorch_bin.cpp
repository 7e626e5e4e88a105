// pytorch_model.bin: the zip archive (end records, central directory, zip64) and the pickle in it, read by
// read_pytorch_bin.
#include <ATen/ATen.h>

#include <exception>

#include "fuzz/fuzz_support.h"
#include "model/tensor_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = electra::fuzz::write_scratch(
      "pytorch_model.bin", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    for (const auto& [name, tensor] : electra::read_pytorch_bin(file)) {
      if (tensor.numel() > 0 && tensor.is_floating_point()) (void)tensor.sum().item<double>();
    }
  } catch (const std::exception&) {
  }
  return 0;
}
