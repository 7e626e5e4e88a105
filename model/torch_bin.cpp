#include <fmt/format.h>

#include <stdexcept>

#include "model/tensor_io.h"

namespace electra {

TensorMap read_pytorch_bin(const std::filesystem::path& file) {
  throw std::runtime_error(fmt::format("{}: reading pytorch_model.bin is not implemented yet", file.string()));
}

}  // namespace electra
