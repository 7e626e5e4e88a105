// Bounds-checked random access to a weight file: every read names the file and what it was reading.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace electra {

class InputFile {
 public:
  // Opens a regular file for reading; throws std::runtime_error("cannot read <file>: <reason>").
  explicit InputFile(const std::filesystem::path& file);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // Copies bytes [offset, offset + n) into `dst`; throws std::runtime_error naming `what` when they lie
  // (partly) past the end of the file or the read fails.
  void read_at(uint64_t offset, void* dst, uint64_t n, const std::string& what) const;
  std::string read_string(uint64_t offset, uint64_t n, const std::string& what) const;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

uint16_t load_le16(const unsigned char* p);
uint32_t load_le32(const unsigned char* p);
uint64_t load_le64(const unsigned char* p);

}  // namespace electra
