// Weight files: safetensors (read/write) and PyTorch's pytorch_model.bin zip (read, restricted unpickler).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace electra {

using TensorMap = std::map<std::string, at::Tensor>;

// Reads F32/F16/BF16/F64/I64/I32/I8/U8/BOOL tensors; throws std::runtime_error naming the file and the problem
// (truncated file, header past the end, bad JSON, unknown dtype, offsets outside the data, ...).
TensorMap read_safetensors(const std::filesystem::path& file);
// Writes tensors contiguous, little endian, keys sorted, with `metadata` in "__metadata__" ({"format":"pt"}).
void write_safetensors(const std::filesystem::path& file, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
// Reads a torch.save zip of a state dict; refuses any pickle opcode/global outside a state dict's vocabulary,
// and the pre-1.6 non-zip format with a clear message.
TensorMap read_pytorch_bin(const std::filesystem::path& file);
// Picks model.safetensors, else pytorch_model.bin in `dir`.
TensorMap read_weights(const std::filesystem::path& dir, std::filesystem::path* used_file = nullptr);

// The elements of a tensor on the CPU as floats, row-major (any float dtype; copied to CPU when needed).
std::vector<float> float_values(const at::Tensor& t);

}  // namespace electra
