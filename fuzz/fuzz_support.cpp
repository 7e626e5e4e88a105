#include "fuzz/fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <system_error>

namespace electra::fuzz {
namespace fs = std::filesystem;

const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("electra_fuzz." + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

fs::path write_scratch(const std::string& name, std::string_view bytes) {
  const fs::path file = scratch_dir() / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {  // not the parser's fault: stop the run rather than report it as a finding of the target
    std::fprintf(stderr, "fuzz: cannot write %s\n", file.c_str());
    std::abort();
  }
  return file;
}

void remove_scratch(const std::string& name) {
  std::error_code ec;
  fs::remove(scratch_dir() / name, ec);
}

Input split_input(const uint8_t* data, size_t size, size_t max_parts) {
  Input in;
  if (size == 0) {
    in.parts.emplace_back();
    return in;
  }
  in.flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (in.parts.size() + 1 < max_parts) {
    const auto at = rest.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    in.parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kPartSeparator.size());
  }
  in.parts.push_back(rest);
  return in;
}

}  // namespace electra::fuzz
