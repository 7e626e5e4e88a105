#include "model/torch_bin_zip.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <vector>

namespace electra {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndRecord = 0x06054b50;
constexpr uint32_t kZip64EndRecord = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint64_t kEndRecordSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EndRecordSize = 56;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kLocalHeaderSize = 30;

// Slicing-by-8 tables for the reflected polynomial 0xEDB88320 (zip's CRC-32).
const std::array<std::array<uint32_t, 256>, 8>& crc_tables() {
  static const auto tables = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    return t;
  }();
  return tables;
}

[[noreturn]] void bad_zip(const InputFile& file, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: corrupt zip archive: {}", file.path().string(), what));
}

}  // namespace

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
  const auto& t = crc_tables();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (n >= 8) {
    const uint32_t lo = crc ^ load_le32(p);
    const uint32_t hi = load_le32(p + 4);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
          t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

ZipArchive::ZipArchive(const InputFile& file) : file_(file) {
  const uint64_t size = file.size();
  if (size < kEndRecordSize) bad_zip(file, fmt::format("{} bytes is too short for a zip end record", size));

  // The end record sits in the last 22 + 65535 (comment) bytes; take the last signature whose comment fits.
  const uint64_t tail_size = std::min<uint64_t>(size, kEndRecordSize + 0xffff);
  const std::string tail = file.read_string(size - tail_size, tail_size, "zip end record");
  const auto* t = reinterpret_cast<const unsigned char*>(tail.data());
  int64_t found = -1;
  for (int64_t i = static_cast<int64_t>(tail_size - kEndRecordSize); i >= 0; --i) {
    if (load_le32(t + i) == kEndRecord && i + kEndRecordSize + load_le16(t + i + 20) <= tail_size) {
      found = i;
      break;
    }
  }
  if (found < 0) bad_zip(file, "no end-of-central-directory record (truncated file?)");
  const unsigned char* end = t + found;
  const uint64_t end_offset = size - tail_size + static_cast<uint64_t>(found);
  if (load_le16(end + 4) != 0 || load_le16(end + 6) != 0) bad_zip(file, "multi-disk archives are not supported");
  uint64_t count = load_le16(end + 10);
  uint64_t cd_size = load_le32(end + 12);
  uint64_t cd_offset = load_le32(end + 16);

  if (end_offset >= kZip64LocatorSize) {
    unsigned char loc[kZip64LocatorSize];
    file.read_at(end_offset - kZip64LocatorSize, loc, kZip64LocatorSize, "zip64 locator");
    if (load_le32(loc) == kZip64Locator) {
      const uint64_t rec_offset = load_le64(loc + 8);
      unsigned char rec[kZip64EndRecordSize];
      file.read_at(rec_offset, rec, kZip64EndRecordSize, "zip64 end record");
      if (load_le32(rec) != kZip64EndRecord) bad_zip(file, fmt::format("no zip64 end record at byte {}", rec_offset));
      count = load_le64(rec + 32);
      cd_size = load_le64(rec + 40);
      cd_offset = load_le64(rec + 48);
    }
  }
  if (cd_offset > size || cd_size > size - cd_offset)
    bad_zip(file, fmt::format("central directory [{}, +{}) lies outside the file ({} bytes)", cd_offset, cd_size, size));
  if (count > cd_size / kCentralHeaderSize)
    bad_zip(file, fmt::format("{} entries cannot fit in a {}-byte central directory", count, cd_size));

  const std::string cd = file.read_string(cd_offset, cd_size, "zip central directory");
  const auto* base = reinterpret_cast<const unsigned char*>(cd.data());
  uint64_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (cd_size - pos < kCentralHeaderSize) bad_zip(file, fmt::format("central directory entry {} is truncated", i));
    const unsigned char* h = base + pos;
    if (load_le32(h) != kCentralHeader) bad_zip(file, fmt::format("central directory entry {} has a bad signature", i));
    const uint16_t flags = load_le16(h + 8);
    const uint16_t method = load_le16(h + 10);
    Entry e;
    e.crc = load_le32(h + 16);
    uint64_t compressed = load_le32(h + 20);
    uint64_t uncompressed = load_le32(h + 24);
    const uint64_t name_len = load_le16(h + 28);
    const uint64_t extra_len = load_le16(h + 30);
    const uint64_t comment_len = load_le16(h + 32);
    uint64_t local_offset = load_le32(h + 42);
    if (cd_size - pos - kCentralHeaderSize < name_len + extra_len + comment_len)
      bad_zip(file, fmt::format("central directory entry {} runs past the directory", i));
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);

    // zip64 extended information: 8-byte values for exactly those fields that hold 0xFFFFFFFF, in this order.
    const unsigned char* extra = h + kCentralHeaderSize + name_len;
    for (uint64_t x = 0; x + 4 <= extra_len;) {
      const uint16_t id = load_le16(extra + x);
      const uint64_t len = load_le16(extra + x + 2);
      if (x + 4 + len > extra_len) bad_zip(file, fmt::format("entry '{}': extra field runs past its end", e.name));
      if (id == 0x0001) {
        const unsigned char* z = extra + x + 4;
        uint64_t used = 0;
        for (uint64_t* field : {&uncompressed, &compressed, &local_offset}) {
          if (*field != 0xffffffffu) continue;
          if (used + 8 > len) bad_zip(file, fmt::format("entry '{}': zip64 extra field is too short", e.name));
          *field = load_le64(z + used);
          used += 8;
        }
      }
      x += 4 + len;
    }
    if (flags & 1) bad_zip(file, fmt::format("entry '{}' is encrypted", e.name));
    if (method != 0) {
      throw std::runtime_error(fmt::format("{}: zip entry '{}' is compressed (method {}); torch.save writes stored "
                                           "entries, so re-save the file with torch.save",
                                           file.path().string(), e.name, method));
    }
    if (compressed != uncompressed)
      bad_zip(file, fmt::format("stored entry '{}' has compressed size {} != size {}", e.name, compressed, uncompressed));
    e.size = uncompressed;

    unsigned char local[kLocalHeaderSize];
    file.read_at(local_offset, local, kLocalHeaderSize, fmt::format("local header of zip entry '{}'", e.name));
    if (load_le32(local) != kLocalHeader) bad_zip(file, fmt::format("entry '{}': no local header at byte {}", e.name, local_offset));
    const uint64_t local_name_len = load_le16(local + 26);
    const uint64_t local_extra_len = load_le16(local + 28);
    if (local_name_len != name_len ||
        file.read_string(local_offset + kLocalHeaderSize, name_len, fmt::format("name of zip entry '{}'", e.name)) != e.name)
      bad_zip(file, fmt::format("entry '{}': local header names a different file", e.name));
    e.data_offset = local_offset + kLocalHeaderSize + local_name_len + local_extra_len;
    if (e.data_offset > size || e.size > size - e.data_offset) {
      bad_zip(file, fmt::format("entry '{}' ([{}, +{})) runs past the end of the file ({} bytes)", e.name, e.data_offset,
                                e.size, size));
    }
    const std::string name = e.name;
    if (!entries_.emplace(name, std::move(e)).second) bad_zip(file, fmt::format("entry '{}' appears twice", name));
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

void ZipArchive::read(const Entry& entry, void* dst) const {
  file_.read_at(entry.data_offset, dst, entry.size, fmt::format("zip entry '{}'", entry.name));
  if (entry.crc != 0) {
    const uint32_t actual = crc32(dst, entry.size);
    if (actual != entry.crc) {
      bad_zip(file_, fmt::format("entry '{}' fails its CRC-32 check (stored {:08x}, computed {:08x})", entry.name,
                                 entry.crc, actual));
    }
  }
}

std::string ZipArchive::read_string(const Entry& entry) const {
  if (entry.size > file_.size()) bad_zip(file_, fmt::format("entry '{}' is larger than the file", entry.name));
  std::string s(static_cast<size_t>(entry.size), '\0');
  read(entry, s.data());
  return s;
}

}  // namespace electra
