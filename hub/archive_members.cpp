#include "hub/archive_members.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>
#include <vector>

#include "hub/download.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

// Copies the data of the entry `reader` is at into `out`, sparse holes filled with zeros. Returns the last status of
// archive_read_data_block (ARCHIVE_EOF once the whole entry is read); `write_ok` turns false when a write fails.
int copy_entry_data(struct archive* reader, std::FILE* out, bool& write_ok) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r = ARCHIVE_OK;
  int64_t written = 0;
  while ((r = archive_read_data_block(reader, &block, &size, &offset)) == ARCHIVE_OK) {
    if (offset != written) {  // a sparse hole: fill it
      std::vector<char> zeros(static_cast<size_t>(offset - written), 0);
      write_ok = write_ok && std::fwrite(zeros.data(), 1, zeros.size(), out) == zeros.size();
      written = offset;
    }
    write_ok = write_ok && std::fwrite(block, 1, size, out) == size;
    written += static_cast<int64_t>(size);
  }
  return r;
}

}  // namespace

void extract_members(const fs::path& archive_file, const std::string& url,
                     const std::map<std::string, fs::path>& wanted, const std::string& fix) {
  struct archive* reader = archive_read_new();
  archive_read_support_filter_all(reader);
  archive_read_support_format_all(reader);
  const auto fail = [&](const std::string& what) {
    const std::string reason = archive_error_string(reader) ? archive_error_string(reader) : "unknown error";
    archive_read_free(reader);
    // A damaged archive must not be reused by the next run.
    std::error_code ec;
    fs::remove(archive_file, ec);
    throw std::runtime_error(fmt::format("cannot {} {} (from {}): {}; it was deleted, run again to download it again",
                                         what, archive_file.string(), url, reason));
  };
  if (archive_read_open_filename(reader, archive_file.c_str(), 1 << 16) != ARCHIVE_OK) fail("open archive");
  std::vector<std::string> entries;
  std::set<std::string> found;
  struct archive_entry* entry = nullptr;
  int status = ARCHIVE_OK;
  while ((status = archive_read_next_header(reader, &entry)) == ARCHIVE_OK) {
    const char* raw = archive_entry_pathname(entry);
    std::string path = raw ? raw : "";
    while (path.rfind("./", 0) == 0) path = path.substr(2);
    if (entries.size() < 12) entries.push_back(path);
    const auto it = wanted.find(path);
    if (it == wanted.end() || found.count(path)) continue;
    if (archive_entry_filetype(entry) != AE_IFREG) {
      archive_read_free(reader);
      throw std::runtime_error(fmt::format("member {} of {} is not a regular file: refusing it", path, url));
    }
    const fs::path& dest = it->second;
    const fs::path tmp = dest.string() + ".tmp";
    std::FILE* out = std::fopen(tmp.c_str(), "wb");
    if (!out) {
      archive_read_free(reader);
      throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
    }
    bool write_ok = true;
    const int r = copy_entry_data(reader, out, write_ok);
    const int write_errno = errno;
    write_ok = std::fclose(out) == 0 && write_ok;
    if (r != ARCHIVE_EOF) {
      fs::remove(tmp);
      fail(fmt::format("unpack {} from", path));
    }
    if (!write_ok) {
      fs::remove(tmp);
      archive_read_free(reader);
      throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(write_errno)));
    }
    commit_file(tmp, dest);
    found.insert(path);
  }
  if (status != ARCHIVE_EOF) fail("read archive");
  archive_read_free(reader);
  std::vector<std::string> absent;
  for (const auto& [member, file] : wanted) {
    if (!found.count(member)) absent.push_back(member);
  }
  if (!absent.empty()) {
    throw std::runtime_error(fmt::format(
        "{} (from {}) has no {}; its first entries are: {}; {}", archive_file.string(), url, fmt::join(absent, ", "),
        fmt::join(entries, ", "), fix));
  }
}

}  // namespace electra
