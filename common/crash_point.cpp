#include "common/crash_point.h"

#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace electra {

void crash_point(std::string_view point) {
  static const std::string spec = [] {
    const char* v = std::getenv("ELECTRA_CRASH_AT");
    return std::string(v ? v : "");
  }();
  if (spec.empty()) return;
  static int64_t seen = 0;
  const size_t colon = spec.rfind(':');
  const std::string_view name = std::string_view(spec).substr(0, colon);
  if (name != point) return;
  const int64_t nth = colon == std::string::npos ? 1 : std::atoll(spec.c_str() + colon + 1);
  if (++seen < nth) return;
  std::fprintf(stderr, "electra: crash point %s reached (ELECTRA_CRASH_AT): SIGKILL\n", spec.c_str());
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace electra
