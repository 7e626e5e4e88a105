#include <ATen/ATen.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/files.h"
#include "model/tensor_io.h"
#include "model/tensor_io_file.h"
#include "model/torch_bin_pickle.h"
#include "model/torch_bin_zip.h"
#include "tests/catch.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using electra::TensorMap;

namespace {

const fs::path kModels = fs::path(electra::test::fixtures_dir()) / "models";

fs::path scratch_dir() {
  const auto dir = fs::temp_directory_path() / ("electra_tensor_io_test." + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A safetensors file from a header text and data bytes; `declared_len` overrides the length prefix.
std::string safetensors_bytes(const std::string& header, const std::string& data, int64_t declared_len = -1) {
  return le64(declared_len < 0 ? header.size() : static_cast<uint64_t>(declared_len)) + header + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string s;
  for (const float v : values) s.append(reinterpret_cast<const char*>(&v), sizeof v);
  return s;
}

// A literal that may hold NUL bytes.
template <size_t N>
std::string raw(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// Plain write, no fsync: the fuzz test writes hundreds of variants.
void put_file(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string le16(uint16_t v) { return le64(v).substr(0, 2); }
std::string le32(uint32_t v) { return le64(v).substr(0, 4); }

// A stored (uncompressed) zip as torch.save writes it; with `zip64`, every size and offset goes through the
// zip64 extra fields and end records, as in archives over 4 GiB.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& files, bool zip64 = false,
                     uint16_t method = 0) {
  std::string out;
  std::string central;
  const uint32_t ff = 0xffffffffu;
  for (const auto& [name, data] : files) {
    const uint32_t crc = electra::crc32(data.data(), data.size());
    const uint64_t offset = out.size();
    const std::string local_extra = zip64 ? le16(1) + le16(16) + le64(data.size()) + le64(data.size()) : "";
    out += le32(0x04034b50) + le16(45) + le16(0) + le16(method) + le32(0) + le32(crc) +
           le32(zip64 ? ff : data.size()) + le32(zip64 ? ff : data.size()) + le16(name.size()) +
           le16(local_extra.size()) + name + local_extra + data;
    const std::string extra = zip64 ? le16(1) + le16(24) + le64(data.size()) + le64(data.size()) + le64(offset) : "";
    central += le32(0x02014b50) + le16(45) + le16(45) + le16(0) + le16(method) + le32(0) + le32(crc) +
               le32(zip64 ? ff : data.size()) + le32(zip64 ? ff : data.size()) + le16(name.size()) +
               le16(extra.size()) + le16(0) + le16(0) + le16(0) + le32(0) + le32(zip64 ? ff : offset) + name + extra;
  }
  const uint64_t cd_offset = out.size();
  out += central;
  if (zip64) {
    const uint64_t record = out.size();
    out += le32(0x06064b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0) + le64(files.size()) +
           le64(files.size()) + le64(central.size()) + le64(cd_offset);
    out += le32(0x07064b50) + le32(0) + le64(record) + le32(1);
    out += le32(0x06054b50) + le16(0) + le16(0) + le16(0xffff) + le16(0xffff) + le32(ff) + le32(ff) + le16(0);
  } else {
    out += le32(0x06054b50) + le16(0) + le16(0) + le16(files.size()) + le16(files.size()) + le32(central.size()) +
           le32(cd_offset) + le16(0);
  }
  return out;
}

std::string pickle_str(const std::string& s) { return "X" + le32(s.size()) + s; }

// Pickles {"w": <2 floats of storage "0">, "t": <the same storage viewed from offset 1, size 1>} as torch.save
// would, with `global` as the storage type.
std::string state_dict_pickle(const std::string& storage_global = "ctorch\nFloatStorage\n") {
  const std::string rebuild = "ctorch._utils\n_rebuild_tensor_v2\n";
  const std::string storage = "((" + pickle_str("storage") + storage_global + pickle_str("0") + pickle_str("cpu") +
                              raw("K\x02tQq\x01");
  return "\x80\x02" "ccollections\nOrderedDict\n)R(" + pickle_str("w") + rebuild + storage +
         raw("K\x00K\x02\x85K\x01\x85\x89" "ccollections\nOrderedDict\n)RtR") + pickle_str("t") + rebuild +
         "(h\x01K\x01K\x01\x85K\x01\x85\x89" "ccollections\nOrderedDict\n)RtRu.";
}

std::string torch_zip(const std::string& pickle, const std::string& storage, bool zip64 = false) {
  return make_zip({{"archive/data.pkl", pickle}, {"archive/byteorder", "little"}, {"archive/data/0", storage}}, zip64);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

bool bit_identical(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const auto ca = a.contiguous();
  const auto cb = b.contiguous();
  // An empty tensor's data pointer may be null, which memcmp must not be given even for 0 bytes (UBSan).
  return ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

}  // namespace

TEST_CASE("read_safetensors reads the Hugging Face fixture", "[tensor_io]") {
  const TensorMap t = electra::read_safetensors(kModels / "base" / "model.safetensors");
  CHECK(t.size() == 39);
  const auto& bias = t.at("embeddings.LayerNorm.bias");
  CHECK(bias.scalar_type() == at::kFloat);
  CHECK(bias.sizes() == at::IntArrayRef{32});
  CHECK(bias[0].item<float>() == Approx(-0.13931845128536224).epsilon(1e-7));
  CHECK(bias[31].item<float>() == Approx(-0.04146334156394005).epsilon(1e-7));
  CHECK(bias.sum().item<double>() == Approx(-0.7008344228233909).epsilon(1e-5));
  const auto& w = t.at("encoder.layer.1.output.dense.weight");
  CHECK(w.sizes() == at::IntArrayRef{64, 128});
  CHECK(w[0][1].item<float>() == Approx(-0.02152487076818943).epsilon(1e-7));
  CHECK(w[63][127].item<float>() == Approx(0.00411688257008791).epsilon(1e-7));
  CHECK(w.sum().item<double>() == Approx(3.8690173548384337).epsilon(1e-5));
}

TEST_CASE("write_safetensors reproduces the Python library's bytes", "[tensor_io]") {
  const auto dir = scratch_dir();
  SECTION("fixtures written by save_pretrained") {
    for (const char* model : {"base", "shared_width"}) {
      const auto original = kModels / model / "model.safetensors";
      const auto copy = dir / (std::string(model) + ".safetensors");
      electra::write_safetensors(copy, electra::read_safetensors(original));
      CHECK(electra::read_file(copy) == electra::read_file(original));
    }
  }
  SECTION("the library's own serialization test vector, without metadata") {
    TensorMap t{{"attn.0", at::arange(6, at::kFloat).reshape({1, 2, 3})}};
    const auto file = dir / "vector.safetensors";
    electra::write_safetensors(file, t, {});
    const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
    CHECK(header.size() == 64);
    CHECK(electra::read_file(file) == safetensors_bytes(header, floats({0, 1, 2, 3, 4, 5})));
  }
  SECTION("mixed dtypes are ordered by alignment, then name, and the header padded with spaces") {
    TensorMap t{{"b", at::zeros({2}, at::kHalf)}, {"a", at::zeros({1}, at::kByte)}, {"c", at::zeros({1}, at::kLong)}};
    const auto file = dir / "mixed.safetensors";
    electra::write_safetensors(file, t);
    const std::string header =
        R"({"__metadata__":{"format":"pt"},"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
        R"("b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"U8","shape":[1],"data_offsets":[12,13]}})";
    const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
    CHECK(electra::read_file(file) == safetensors_bytes(padded, std::string(13, '\0')));
  }
  electra::remove_tree(dir);
}

TEST_CASE("write_safetensors round trips every dtype bit for bit", "[tensor_io]") {
  const auto dir = scratch_dir();
  at::manual_seed(3);
  const auto f32 = at::randn({3, 5});
  TensorMap t{
      {"f32", f32},
      {"f16", at::randn({4, 2}).to(at::kHalf)},
      {"bf16", at::randn({7}).to(at::kBFloat16)},
      {"f64", at::randn({2, 2}, at::kDouble)},
      {"i64", at::arange(-5, 6, at::kLong) * int64_t{1000000000000}},
      {"i32", at::arange(-3, 3, at::kInt)},
      {"i16", at::arange(-3, 3, at::kShort)},
      {"i8", at::arange(-3, 3, at::kChar)},
      {"u8", at::arange(250, 256, at::kLong).to(at::kByte)},
      {"bool", at::arange(4, at::kLong).remainder(2).to(at::kBool)},
      {"scalar", at::scalar_tensor(2.5)},
      {"empty", at::zeros({0, 3})},
      {"strided", f32.t()},  // non-contiguous input is written contiguous
  };
  const auto file = dir / "all.safetensors";
  electra::write_safetensors(file, t);
  const TensorMap back = electra::read_safetensors(file);
  REQUIRE(back.size() == t.size());
  for (const auto& [name, tensor] : t) {
    INFO(name);
    REQUIRE(back.count(name) == 1);
    CHECK(bit_identical(back.at(name), tensor));
    CHECK(back.at(name).is_contiguous());
  }
  CHECK(back.at("scalar").dim() == 0);
  CHECK_THROWS_AS(electra::write_safetensors(dir / "c.safetensors", {{"c", at::zeros({2}, at::kComplexFloat)}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(electra::write_safetensors(dir / "m.safetensors", {{"__metadata__", at::zeros({2})}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(electra::write_safetensors(dir / "u.safetensors", {{"u", at::Tensor()}}), std::invalid_argument);
  electra::remove_tree(dir);
}

TEST_CASE("read_safetensors refuses malformed files with the file and key named", "[tensor_io]") {
  const auto dir = scratch_dir();
  const auto file = dir / "bad.safetensors";
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string good_data = floats({1, 2});
  electra::write_file_atomic(file, safetensors_bytes(good_header, good_data));
  REQUIRE(electra::read_safetensors(file).at("w")[1].item<float>() == 2.0f);

  const auto expect_error = [&](const std::string& bytes, const std::string& fragment) {
    electra::write_file_atomic(file, bytes);
    INFO(fragment);
    try {
      electra::read_safetensors(file);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(file.string()) != std::string::npos);
      CHECK(message.find(fragment) != std::string::npos);
    }
  };
  const auto whole = safetensors_bytes(good_header, good_data);
  expect_error(whole.substr(0, whole.size() - 3), "run past the end of the data");  // truncated tensor data
  expect_error(whole.substr(0, 20), "runs past the end of the file");                 // truncated header
  expect_error(whole.substr(0, 5), "too short");
  expect_error(whole + "xx", "not described by the header");
  expect_error(safetensors_bytes(good_header, good_data, 1000), "runs past the end of the file");
  expect_error(safetensors_bytes(good_header, good_data, int64_t{1} << 62), "absurdly large");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", good_data),
               "unknown dtype 'F33'");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", good_data),
               "unsupported dtype 'U16'");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", good_data),
               "tensor 'w': shape [3] of F32 needs 12 bytes");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", good_data),
               "tensor 'w': data_offsets [4, 12] run past");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", good_data),
               "end before they begin");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                 good_data),
               "overlap");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", good_data), "unused");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", good_data),
               "not valid JSON");
  expect_error(safetensors_bytes(R"([1, 2])", ""), "not an object");
  expect_error(safetensors_bytes(R"({"w":[1, 2]})", ""), "tensor 'w': header entry is [1,2], not an object");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", good_data),
               "not a non-negative integer");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", good_data), "has no 'data_offsets'");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", good_data),
               "unknown field 'x'");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                 good_data),
               "names 'w' twice");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
                                 good_data),
               "too large");
  expect_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})", ""),
               "too large");
  expect_error(safetensors_bytes(R"({"__metadata__":{"format":1}})", ""), "__metadata__ 'format' is not a string");
  expect_error(safetensors_bytes(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", "\x01\x07"),
               "not 0 or 1");
  CHECK_THROWS_AS(electra::read_safetensors(dir / "missing.safetensors"), std::runtime_error);
  CHECK_THROWS_AS(electra::read_safetensors(dir), std::runtime_error);
  electra::remove_tree(dir);
}

TEST_CASE("read_weights prefers model.safetensors and says which file it used", "[tensor_io]") {
  fs::path used;
  const TensorMap t = electra::read_weights(kModels / "shared_width", &used);
  CHECK(used.filename() == "model.safetensors");
  CHECK(t.count("classifier.out_proj.weight") == 1);
  const auto dir = scratch_dir();
  CHECK_THROWS_AS(electra::read_weights(dir), std::runtime_error);                   // no weights
  CHECK_THROWS_AS(electra::read_weights(dir / "missing"), std::runtime_error);       // no directory
  electra::remove_tree(dir);
}

TEST_CASE("read_pytorch_bin gives the same tensors as model.safetensors", "[tensor_io]") {
  for (const char* model : {"base", "shared_width"}) {
    INFO(model);
    const TensorMap st = electra::read_safetensors(kModels / model / "model.safetensors");
    const TensorMap bin = electra::read_pytorch_bin(kModels / model / "pytorch_model.bin");
    REQUIRE(bin.size() == st.size());
    for (const auto& [name, tensor] : st) {
      INFO(name);
      REQUIRE(bin.count(name) == 1);
      CHECK(bit_identical(bin.at(name), tensor));
      CHECK(bin.at(name).is_contiguous());
    }
  }
  const auto dir = scratch_dir();
  fs::copy_file(kModels / "base" / "pytorch_model.bin", dir / "pytorch_model.bin");
  fs::path used;
  CHECK(electra::read_weights(dir, &used).size() == 39);
  CHECK(used.filename() == "pytorch_model.bin");
  electra::remove_tree(dir);
}

TEST_CASE("read_pytorch_bin rebuilds views, zip64 archives and other dtypes", "[tensor_io]") {
  const auto dir = scratch_dir();
  const auto file = dir / "pytorch_model.bin";
  for (const bool zip64 : {false, true}) {
    INFO("zip64 " << zip64);
    electra::write_file_atomic(file, torch_zip(state_dict_pickle(), floats({1.5f, -2.0f}), zip64));
    TensorMap t = electra::read_pytorch_bin(file);
    REQUIRE(t.size() == 2);
    CHECK(bit_identical(t.at("w"), at::tensor({1.5f, -2.0f})));
    CHECK(bit_identical(t.at("t"), at::tensor({-2.0f})));
    t.at("t").fill_(7);  // tensors that shared a storage in the file do not share memory here
    CHECK(t.at("w")[1].item<float>() == -2.0f);
  }
  electra::write_file_atomic(file, torch_zip(state_dict_pickle("ctorch\nLongStorage\n"), le64(5) + le64(uint64_t(-3))));
  const TensorMap longs = electra::read_pytorch_bin(file);
  CHECK(bit_identical(longs.at("w"), at::tensor({int64_t{5}, int64_t{-3}})));
  electra::write_file_atomic(file, torch_zip(state_dict_pickle("ctorch\nHalfStorage\n"), raw("\x00\x3c\x00\xc0")));
  CHECK(bit_identical(electra::read_pytorch_bin(file).at("w"), at::tensor({1.0f, -2.0f}).to(at::kHalf)));
  electra::remove_tree(dir);
}

TEST_CASE("read_pytorch_bin refuses bad and unsafe files with a clear message", "[tensor_io]") {
  const auto dir = scratch_dir();
  const auto file = dir / "pytorch_model.bin";
  const auto expect_error = [&](const std::string& bytes, const std::string& fragment) {
    electra::write_file_atomic(file, bytes);
    const std::string message = error_of([&] { electra::read_pytorch_bin(file); });
    INFO(message);
    CHECK(message.find(file.string()) != std::string::npos);
    CHECK(message.find(fragment) != std::string::npos);
  };
  const std::string good = electra::read_file(kModels / "base" / "pytorch_model.bin");
  expect_error(good.substr(0, good.size() / 2), "no end-of-central-directory record");
  expect_error(good.substr(0, good.size() - 30), "corrupt zip archive");
  expect_error(good.substr(0, 10), "corrupt zip archive");
  expect_error(std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15) + "more",
               "legacy (pre-1.6, non-zip) torch.save format");
  expect_error(raw("\x80\x02}q\x00."), "a bare pickle");
  expect_error("hello", "not a pytorch_model.bin");
  expect_error("", "not a pytorch_model.bin");
  expect_error(torch_zip(raw("\x80\x02" "cos\nsystem\nq\x00") + pickle_str("touch /tmp/pwned") + "\x85R.", ""),
               "refusing GLOBAL 'os system'");
  expect_error(torch_zip("\x80\x02" "cbuiltins\neval\n.", ""), "refusing GLOBAL 'builtins eval'");
  expect_error(torch_zip("\x80\x04\x8c\x02os\x8c\x06system\x93.", ""), "refusing pickle opcode 0x8c");
  expect_error(torch_zip("\x80\x02(S'x'\nios\nsystem\n.", ""), "refusing pickle opcode 0x53 ('S')");
  expect_error(torch_zip("\x80\x02" "ctorch\nFloatStorage\n)R.", ""), "refusing to call 'torch FloatStorage'");
  expect_error(torch_zip(state_dict_pickle(), floats({1.5f})), "storage 'archive/data/0' holds 4 bytes");
  expect_error(make_zip({{"archive/data.pkl", state_dict_pickle()}}), "storage record 'archive/data/0' is missing");
  expect_error(make_zip({{"archive/data.pkl", "\x80\x02}."}}, false, 8), "is compressed");
  expect_error(make_zip({{"x/version", "3"}}), "no <name>/data.pkl record");
  expect_error(torch_zip(raw("\x80\x02]q\x00."), ""), "refusing pickle opcode 0x5d");
  expect_error(torch_zip(raw("\x80\x02X\x02\x00\x00\x00\xc3\x28."), ""), "not valid UTF-8");
  expect_error(torch_zip("\x80\x02" "ccollections\nOrderedDict\n)R" + pickle_str("k") + "K\x01s.", ""),
               "state dict entry 'k' is a int, not a tensor");
  std::string flipped = torch_zip(state_dict_pickle(), floats({1.5f, -2.0f}));
  flipped[flipped.find("archive/data/0") + 15] ^= 0x40;  // a byte of the storage data (after its local header)
  expect_error(flipped, "fails its CRC-32 check");
  electra::remove_tree(dir);
}

TEST_CASE("read_pytorch_bin only ever throws std::runtime_error on damaged files", "[tensor_io]") {
  const auto dir = scratch_dir();
  const auto file = dir / "pytorch_model.bin";
  const std::string good = electra::read_file(kModels / "base" / "pytorch_model.bin");
  const TensorMap expected = electra::read_pytorch_bin(kModels / "base" / "pytorch_model.bin");
  std::mt19937 rng(2024);
  int errors = 0;
  int loads = 0;
  const auto attempt = [&](const std::string& bytes) {
    put_file(file, bytes);
    try {
      const TensorMap t = electra::read_pytorch_bin(file);
      ++loads;  // only bytes no reader looks at were damaged: the tensors must be exactly right
      REQUIRE(t.size() == expected.size());
      for (const auto& [name, tensor] : expected) CHECK(bit_identical(t.at(name), tensor));
    } catch (const std::runtime_error&) {
      ++errors;
    }
  };
  for (int i = 0; i < 40; ++i) attempt(good.substr(0, rng() % good.size()));
  for (size_t cut = good.size() - 3200; cut < good.size(); cut += 97) attempt(good.substr(0, cut));
  for (int i = 0; i < 120; ++i) {
    std::string bytes = good;
    // Half the flips land in the metadata (pickle, headers, central directory), half anywhere.
    const size_t pos = i % 2 ? rng() % bytes.size() : (rng() % 2 ? rng() % 6700 : bytes.size() - 1 - rng() % 3200);
    bytes[pos] = static_cast<char>(bytes[pos] ^ (1 + rng() % 255));
    attempt(bytes);
  }
  CHECK(errors > 150);

  // The unpickler alone, behind the CRC check: flipped and truncated data.pkl.
  const electra::InputFile in(kModels / "base" / "pytorch_model.bin");
  const electra::ZipArchive zip(in);
  const std::string pickle = zip.read_string(*zip.find("pytorch_model/data.pkl"));
  const electra::StorageLoader zeros = [](const std::string&, at::ScalarType dtype, uint64_t numel) {
    if (numel > 10'000'000) throw std::runtime_error("storage too large for this test");
    return at::zeros({static_cast<int64_t>(numel)}, at::TensorOptions().dtype(dtype));
  };
  REQUIRE(electra::unpickle_state_dict(pickle, "test", zeros).size() == 39);
  int pickle_errors = 0;
  for (int i = 0; i < 600; ++i) {
    std::string bytes = i % 5 == 0 ? pickle.substr(0, rng() % pickle.size()) : pickle;
    for (int k = 0; k < 1 + i % 3; ++k) {
      const size_t pos = rng() % bytes.size();
      bytes[pos] = static_cast<char>(i % 2 ? rng() % 256 : bytes[pos] ^ (1 << (rng() % 8)));
    }
    try {
      electra::unpickle_state_dict(bytes, "test", zeros);
    } catch (const std::runtime_error&) {
      ++pickle_errors;
    }
  }
  CHECK(pickle_errors > 300);
  electra::remove_tree(dir);
}
