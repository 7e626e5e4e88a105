#include "model/tensor_io.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/files.h"
#include "model/tensor_io_file.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "weight files are little endian; add byte swapping first");

namespace electra {
namespace {

namespace fs = std::filesystem;

// The safetensors library refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct SafetensorsDtype {
  const char* name;
  at::ScalarType type;
  uint64_t size;
  int rank;  // the library's Dtype enum order (BOOL < U8 < I8 < ... < I64), used to order tensors when writing
};

constexpr SafetensorsDtype kDtypes[] = {
    {"BOOL", at::kBool, 1, 0}, {"U8", at::kByte, 1, 1},     {"I8", at::kChar, 1, 2},
    {"I16", at::kShort, 2, 5}, {"F16", at::kHalf, 2, 7},    {"BF16", at::kBFloat16, 2, 8},
    {"I32", at::kInt, 4, 9},   {"F32", at::kFloat, 4, 11},  {"F64", at::kDouble, 8, 12},
    {"I64", at::kLong, 8, 13},
};
// Valid safetensors dtypes that have no LibTorch 1.13 counterpart.
constexpr const char* kUnsupportedDtypes[] = {"U16", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E4M3FN"};

const SafetensorsDtype* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const SafetensorsDtype* find_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

struct HeaderEntry {
  std::string name;
  const SafetensorsDtype* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

[[noreturn]] void bad_file(const fs::path& file, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", file.string(), what));
}

uint64_t unsigned_field(const fs::path& file, const std::string& key, const char* field, const nlohmann::json& v) {
  if (!v.is_number_unsigned()) bad_file(file, fmt::format("tensor '{}': {} holds {}, not a non-negative integer", key, field, v.dump()));
  return v.get<uint64_t>();
}

HeaderEntry parse_entry(const fs::path& file, const std::string& key, const nlohmann::json& info) {
  if (!info.is_object()) bad_file(file, fmt::format("tensor '{}': header entry is {}, not an object", key, info.dump()));
  for (const auto& item : info.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      bad_file(file, fmt::format("tensor '{}': unknown field '{}' in the header entry", key, item.key()));
  }
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!info.contains(field)) bad_file(file, fmt::format("tensor '{}': header entry has no '{}'", key, field));

  HeaderEntry e;
  e.name = key;
  const auto& dtype = info.at("dtype");
  if (!dtype.is_string()) bad_file(file, fmt::format("tensor '{}': dtype is {}, not a string", key, dtype.dump()));
  const auto dtype_name = dtype.get<std::string>();
  e.dtype = find_dtype(dtype_name);
  if (!e.dtype) {
    const bool valid = std::any_of(std::begin(kUnsupportedDtypes), std::end(kUnsupportedDtypes),
                                   [&](const char* n) { return dtype_name == n; });
    bad_file(file, fmt::format("tensor '{}': {} dtype '{}' (supported: {})", key, valid ? "unsupported" : "unknown",
                               dtype_name, known_dtypes()));
  }

  const auto& shape = info.at("shape");
  if (!shape.is_array()) bad_file(file, fmt::format("tensor '{}': shape is {}, not an array", key, shape.dump()));
  // The product of the non-zero dimensions must fit too: LibTorch computes strides from it even when numel is 0.
  uint64_t numel = 1;
  uint64_t nonzero = 1;
  bool overflow = false;
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (const auto& dim : shape) {
    const uint64_t d = unsigned_field(file, key, "shape", dim);
    if (d != 0 && nonzero > kMax / d) overflow = true;
    if (d != 0) nonzero *= d;
    numel *= d;
    e.shape.push_back(static_cast<int64_t>(d));
  }
  if (overflow || numel > kMax / e.dtype->size)
    bad_file(file, fmt::format("tensor '{}': shape {} is too large", key, shape.dump()));

  const auto& offsets = info.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    bad_file(file, fmt::format("tensor '{}': data_offsets is {}, not [begin, end]", key, offsets.dump()));
  e.begin = unsigned_field(file, key, "data_offsets", offsets[0]);
  e.end = unsigned_field(file, key, "data_offsets", offsets[1]);
  if (e.end < e.begin) bad_file(file, fmt::format("tensor '{}': data_offsets {} end before they begin", key, offsets.dump()));
  if (e.end - e.begin != numel * e.dtype->size) {
    bad_file(file, fmt::format("tensor '{}': shape {} of {} needs {} bytes but data_offsets {} span {} bytes", key,
                               shape.dump(), dtype_name, numel * e.dtype->size, offsets.dump(), e.end - e.begin));
  }
  return e;
}

nlohmann::json parse_header(const fs::path& file, const std::string& text) {
  std::set<std::string> keys;
  const nlohmann::json::parser_callback_t check = [&](int depth, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth >= 3)
      bad_file(file, "safetensors header is nested deeper than {name: {shape: [...]}}");
    if (event == Event::key && depth == 1 && parsed.is_string() && !keys.insert(parsed.get<std::string>()).second)
      bad_file(file, fmt::format("safetensors header names '{}' twice", parsed.get<std::string>()));
    return true;
  };
  try {
    return nlohmann::json::parse(text, check);
  } catch (const nlohmann::json::exception& e) {
    bad_file(file, fmt::format("safetensors header is not valid JSON: {}", e.what()));
  }
}

std::string json_string(const std::string& s, const char* what) {
  try {
    return nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(fmt::format("safetensors {} '{}' is not valid UTF-8", what, s));
  }
}

void append_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

TensorMap read_safetensors(const fs::path& file) {
  const InputFile in(file);
  if (in.size() < 8) bad_file(file, fmt::format("file has {} bytes, too short for a safetensors header length", in.size()));
  unsigned char len_bytes[8];
  in.read_at(0, len_bytes, 8, "header length");
  const uint64_t header_len = load_le64(len_bytes);
  if (header_len > kMaxHeaderBytes)
    bad_file(file, fmt::format("safetensors header length {} is absurdly large (limit {})", header_len, kMaxHeaderBytes));
  if (header_len > in.size() - 8) {
    bad_file(file, fmt::format("safetensors header length {} runs past the end of the file ({} bytes); truncated or not a safetensors file",
                               header_len, in.size()));
  }
  const auto header = parse_header(file, in.read_string(8, header_len, "safetensors header"));
  if (!header.is_object()) bad_file(file, fmt::format("safetensors header is a JSON {}, not an object", header.type_name()));

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = in.size() - data_start;
  std::vector<HeaderEntry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object()) bad_file(file, "safetensors __metadata__ is not an object");
      for (const auto& m : item.value().items())
        if (!m.value().is_string()) bad_file(file, fmt::format("safetensors __metadata__ '{}' is not a string", m.key()));
      continue;
    }
    entries.push_back(parse_entry(file, item.key(), item.value()));
  }

  // Like the reference library: tensors tile the data section exactly, without gaps or overlaps.
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t expected = 0;
  for (const auto& e : entries) {
    if (e.end > data_size) {
      bad_file(file, fmt::format("tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes); truncated file?",
                                 e.name, e.begin, e.end, data_size));
    }
    if (e.begin < expected)
      bad_file(file, fmt::format("tensor '{}': data_offsets [{}, {}] overlap the previous tensor", e.name, e.begin, e.end));
    if (e.begin > expected)
      bad_file(file, fmt::format("tensor '{}': data_offsets [{}, {}] leave bytes [{}, {}) unused", e.name, e.begin, e.end, expected, e.begin));
    expected = e.end;
  }
  if (expected != data_size)
    bad_file(file, fmt::format("{} bytes after the last tensor are not described by the header", data_size - expected));

  TensorMap tensors;
  for (const auto& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin) in.read_at(data_start + e.begin, t.data_ptr(), e.end - e.begin, fmt::format("tensor '{}'", e.name));
    if (e.dtype->type == at::kBool) {
      const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
      for (uint64_t i = 0; i < e.end - e.begin; ++i)
        if (bytes[i] > 1) bad_file(file, fmt::format("tensor '{}': BOOL byte {} is {}, not 0 or 1", e.name, i, bytes[i]));
    }
    tensors.emplace(e.name, std::move(t));
  }
  return tensors;
}

void write_safetensors(const fs::path& file, const TensorMap& tensors, const std::map<std::string, std::string>& metadata) {
  struct Item {
    const std::string* name;
    const SafetensorsDtype* dtype;
    at::Tensor data;
  };
  std::vector<Item> items;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw std::invalid_argument(fmt::format("{}: '__metadata__' cannot name a tensor", file.string()));
    if (!tensor.defined()) throw std::invalid_argument(fmt::format("{}: tensor '{}' is undefined", file.string(), name));
    const auto* dtype = find_dtype(tensor.scalar_type());
    if (!dtype) {
      throw std::invalid_argument(fmt::format("{}: tensor '{}' has dtype {}, which safetensors here cannot store (supported: {})",
                                              file.string(), name, c10::toString(tensor.scalar_type()), known_dtypes()));
    }
    items.push_back({&name, dtype, tensor.detach().to(at::kCPU).contiguous()});
  }
  // Same order as the Python library: larger-alignment dtypes first, then by name.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.dtype->rank != b.dtype->rank) return a.dtype->rank > b.dtype->rank;
    return *a.name < *b.name;
  });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header += fmt::format("{}{}:{}", first ? "" : ",", json_string(k, "metadata key"), json_string(v, "metadata value"));
      first = false;
    }
    header += "}";
  }
  uint64_t offset = 0;
  for (const auto& item : items) {
    std::string shape;
    for (const auto d : item.data.sizes()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    const uint64_t nbytes = item.data.numel() * item.dtype->size;
    header += fmt::format("{}{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}", header.size() > 1 ? "," : "",
                          json_string(*item.name, "tensor name"), item.dtype->name, shape, offset, offset + nbytes);
    offset += nbytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string content;
  content.reserve(8 + header.size() + offset);
  append_le64(content, header.size());
  content += header;
  for (const auto& item : items) {
    const uint64_t nbytes = item.data.numel() * item.dtype->size;
    if (nbytes > 0) content.append(static_cast<const char*>(item.data.data_ptr()), nbytes);
  }
  write_file_atomic(file, content);
}

TensorMap read_weights(const fs::path& dir, fs::path* used_file) {
  if (!fs::is_directory(dir)) throw std::runtime_error(fmt::format("{}: not a model directory", dir.string()));
  for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"}) {
    if (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "pytorch_model.bin") && fs::exists(dir / index)) {
      throw std::runtime_error(fmt::format("{}: sharded checkpoints ({}) are not supported; merge the shards into one "
                                           "model.safetensors (save_pretrained with a larger max_shard_size)",
                                           dir.string(), index));
    }
  }
  const fs::path safetensors = dir / "model.safetensors";
  const fs::path bin = dir / "pytorch_model.bin";
  if (fs::exists(safetensors)) {
    if (used_file) *used_file = safetensors;
    return read_safetensors(safetensors);
  }
  if (fs::exists(bin)) {
    if (used_file) *used_file = bin;
    return read_pytorch_bin(bin);
  }
  throw std::runtime_error(fmt::format("{}: no weights found (looked for model.safetensors and pytorch_model.bin)", dir.string()));
}

std::vector<float> float_values(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace electra
