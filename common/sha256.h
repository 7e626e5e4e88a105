// SHA-256 (FIPS 180-4) of bytes and files, as lowercase hex: Hugging Face LFS blobs (whose ETag is the sha256 of the
// content), dataset manifests, training states and the fingerprint of a corpus's vocabulary.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace electra {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string hex_digest();  // finishes the hash; the object must not be updated afterwards

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);
// Hashes a whole file; throws std::runtime_error naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);
// True for 64 lowercase hex characters: the form of an LFS object id.
bool is_sha256_hex(std::string_view text);

}  // namespace electra
