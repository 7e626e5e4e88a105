#include <ATen/ATen.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/files.h"
#include "model/tensor_io.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using electra::TensorMap;

namespace {

const fs::path kModels = fs::path(ELECTRA_TEST_FIXTURES) / "models";

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

bool bit_identical(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const auto ca = a.contiguous();
  const auto cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
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
  fs::remove_all(dir);
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
  fs::remove_all(dir);
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
  expect_error(safetensors_bytes(R"({"__metadata__":{"format":1}})", ""), "__metadata__ 'format' is not a string");
  expect_error(safetensors_bytes(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", "\x01\x07"),
               "not 0 or 1");
  CHECK_THROWS_AS(electra::read_safetensors(dir / "missing.safetensors"), std::runtime_error);
  CHECK_THROWS_AS(electra::read_safetensors(dir), std::runtime_error);
  fs::remove_all(dir);
}

TEST_CASE("read_weights prefers model.safetensors and says which file it used", "[tensor_io]") {
  fs::path used;
  const TensorMap t = electra::read_weights(kModels / "shared_width", &used);
  CHECK(used.filename() == "model.safetensors");
  CHECK(t.count("classifier.out_proj.weight") == 1);
  const auto dir = scratch_dir();
  CHECK_THROWS_AS(electra::read_weights(dir), std::runtime_error);                   // no weights
  CHECK_THROWS_AS(electra::read_weights(dir / "missing"), std::runtime_error);       // no directory
  fs::remove_all(dir);
}
