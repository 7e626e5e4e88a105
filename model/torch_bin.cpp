#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "model/tensor_io.h"
#include "model/tensor_io_file.h"
#include "model/torch_bin_pickle.h"
#include "model/torch_bin_zip.h"

namespace electra {
namespace {

constexpr const char* kConvertHint =
    "load it with torch.load and save it again with torch >= 1.6, or convert it to model.safetensors "
    "(safetensors.torch.save_file(torch.load(path), 'model.safetensors', metadata={'format': 'pt'}))";

// Says what a file that is not a zip archive is, as precisely as its first bytes allow.
[[noreturn]] void not_a_zip(const InputFile& in) {
  const std::string path = in.path().string();
  const std::string head = in.read_string(0, std::min<uint64_t>(in.size(), 512), "file header");
  // torch.save before 1.6: a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c, then more pickles.
  static const std::string kLegacyMagic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14);
  if (head.compare(0, kLegacyMagic.size(), kLegacyMagic) == 0) {
    throw std::runtime_error(fmt::format("{}: legacy (pre-1.6, non-zip) torch.save format, which is not supported; {}",
                                         path, kConvertHint));
  }
  if (head.size() > 262 && head.compare(257, 5, "ustar") == 0) {
    throw std::runtime_error(fmt::format("{}: legacy tar-based torch.save format, which is not supported; {}", path,
                                         kConvertHint));
  }
  if (!head.empty() && static_cast<unsigned char>(head[0]) == 0x80) {
    throw std::runtime_error(fmt::format("{}: a bare pickle, not a torch.save zip archive (unsupported); {}", path,
                                         kConvertHint));
  }
  throw std::runtime_error(fmt::format("{}: not a pytorch_model.bin (neither a torch.save zip archive nor a legacy "
                                       "torch.save file)",
                                       path));
}

}  // namespace

TensorMap read_pytorch_bin(const std::filesystem::path& file) {
  const InputFile in(file);
  char magic[4] = {};
  if (in.size() >= 4) in.read_at(0, magic, 4, "file magic");
  if (std::memcmp(magic, "PK\x03\x04", 4) != 0 && std::memcmp(magic, "PK\x05\x06", 4) != 0) not_a_zip(in);

  const ZipArchive zip(in);
  // torch.save puts every record under one top-level folder, "<name>/data.pkl" (name = "archive" or the stem).
  std::string prefix;
  for (const auto& [name, entry] : zip.entries()) {
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (!prefix.empty()) throw std::runtime_error(fmt::format("{}: zip holds more than one data.pkl", file.string()));
      prefix = name.substr(0, slash + 1);
    }
  }
  if (prefix.empty()) {
    throw std::runtime_error(fmt::format("{}: zip archive has no <name>/data.pkl record, so it is not a torch.save "
                                         "checkpoint (a TorchScript or other zip?)",
                                         file.string()));
  }
  if (const auto* order = zip.find(prefix + "byteorder")) {
    const std::string byteorder = order->size <= 16 ? zip.read_string(*order) : "?";
    if (byteorder != "little")
      throw std::runtime_error(fmt::format("{}: byteorder '{}' is not supported (only little)", file.string(), byteorder));
  }

  const auto* pickle_entry = zip.find(prefix + "data.pkl");
  const std::string pickle = zip.read_string(*pickle_entry);
  const StorageLoader load = [&](const std::string& key, at::ScalarType dtype, uint64_t numel) {
    const std::string name = prefix + "data/" + key;
    const auto* entry = zip.find(name);
    if (!entry) throw std::runtime_error(fmt::format("{}: storage record '{}' is missing", file.string(), name));
    const uint64_t element = c10::elementSize(dtype);
    if (numel > entry->size / element || numel * element != entry->size) {
      throw std::runtime_error(fmt::format("{}: storage '{}' holds {} bytes, but the pickle expects {} elements of {}",
                                           file.string(), name, entry->size, numel, c10::toString(dtype)));
    }
    at::Tensor storage = at::empty({static_cast<int64_t>(numel)}, at::TensorOptions().dtype(dtype));
    zip.read(*entry, storage.data_ptr());
    if (dtype == at::kBool) {
      const auto* bytes = static_cast<const unsigned char*>(storage.data_ptr());
      for (uint64_t i = 0; i < numel; ++i)
        if (bytes[i] > 1) throw std::runtime_error(fmt::format("{}: bool storage '{}' holds byte {}", file.string(), name, bytes[i]));
    }
    return storage;
  };
  return unpickle_state_dict(pickle, fmt::format("{}: {}", file.string(), pickle_entry->name), load);
}

}  // namespace electra
