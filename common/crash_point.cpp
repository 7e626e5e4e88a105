#include "common/crash_point.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace electra {
namespace {

struct CrashSpec {
  std::string point;
  int64_t nth = 1;
  int signal = SIGKILL;
};

CrashSpec parse_spec() {
  CrashSpec spec;
  const char* v = std::getenv("ELECTRA_CRASH_AT");
  if (v == nullptr) return spec;
  const std::string text = v;
  const size_t first = text.find(':');
  spec.point = text.substr(0, first);
  if (first == std::string::npos) return spec;
  const size_t second = text.find(':', first + 1);
  spec.nth = std::max<int64_t>(1, std::atoll(text.c_str() + first + 1));
  if (second == std::string::npos) return spec;
  const std::string name = text.substr(second + 1);
  spec.signal = name == "TERM" ? SIGTERM : name == "INT" ? SIGINT : name == "USR1" ? SIGUSR1 : SIGKILL;
  return spec;
}

}  // namespace

void crash_point(std::string_view point) {
  static const CrashSpec spec = parse_spec();
  if (spec.point.empty() || spec.point != point) return;
  static int64_t seen = 0;
  if (++seen != spec.nth) return;
  std::fprintf(stderr, "electra: crash point %s reached (ELECTRA_CRASH_AT): %s\n", std::getenv("ELECTRA_CRASH_AT"),
               spec.signal == SIGKILL ? "SIGKILL" : "signal");
  std::fflush(stderr);
  if (spec.signal == SIGKILL) ::kill(::getpid(), SIGKILL);
  std::raise(spec.signal);
}

}  // namespace electra
