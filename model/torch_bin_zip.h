// Reads the central directory of an uncompressed (stored) zip archive, zip64 included, as torch.save writes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "model/tensor_io_file.h"

namespace electra {

uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint64_t data_offset = 0;  // where the stored bytes start in the file
    uint64_t size = 0;
    uint32_t crc = 0;
  };

  // Parses the end record(s) and the central directory; throws std::runtime_error naming the file on any
  // inconsistency, on compressed or encrypted entries and on duplicate names.
  explicit ZipArchive(const InputFile& file);

  const std::map<std::string, Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  // Reads an entry's bytes into `dst` (entry.size bytes) and checks its CRC-32. A stored CRC of 0 is taken
  // as "not computed" (torch.serialization.set_crc32_options(False) writes files that way).
  void read(const Entry& entry, void* dst) const;
  std::string read_string(const Entry& entry) const;

 private:
  const InputFile& file_;
  std::map<std::string, Entry> entries_;
};

}  // namespace electra
