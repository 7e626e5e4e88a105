// Test-only fault injection: with ELECTRA_CRASH_AT=<point>[:<n>] in the environment, the process kills itself with
// SIGKILL at the n-th arrival at `point`; with ELECTRA_CRASH_AT=<point>:<n>:<SIGNAL> (TERM, INT or USR1) it sends
// itself that signal there instead and carries on, as if a scheduler or Ctrl-C had sent it at that moment
// (docs/stopping.md). Without the variable, nothing happens. The points are listed in docs/reliability.md.
#pragma once

#include <string_view>

namespace electra {

// Acts as ELECTRA_CRASH_AT says the n-th time (default: the first) this process reaches `point`.
void crash_point(std::string_view point);

}  // namespace electra
