#include "common/files.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace electra {

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
  std::string content;
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) throw std::runtime_error(fmt::format("cannot read {}: not a regular file", file.string()));
  content.resize(static_cast<size_t>(size));
  in.seekg(0);
  in.read(content.data(), size);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}: read failed", file.string()));
  return content;
}

void write_file_atomic(const std::filesystem::path& file, std::string_view content) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  const std::filesystem::path tmp = file.string() + fmt::format(".tmp.{}", ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size() && std::fflush(f) == 0 &&
                  ::fsync(::fileno(f)) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !ok) {
    std::filesystem::remove(tmp);
    throw std::runtime_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(ok ? errno : err)));
  }
  std::filesystem::rename(tmp, file);
}

}  // namespace electra
