// Test-only fault injection: with ELECTRA_CRASH_AT=<point>[:<n>] in the environment, the process kills itself with
// SIGKILL at the n-th arrival at `point`; without it, nothing happens. The points are listed in docs/reliability.md.
#pragma once

#include <string_view>

namespace electra {

// SIGKILLs this process the n-th time (default: the first) it reaches `point` when ELECTRA_CRASH_AT names it.
void crash_point(std::string_view point);

}  // namespace electra
