// The corpus code's seeded draws, the same on every platform (std distributions are not): splitmix64 mixing and
// integers below n. Internal to corpus/ (the packing and the shuffles).
#pragma once

#include <cstdint>
#include <random>

namespace electra {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// An integer in [0, n) from a 64-bit generator (modulo: the bias is below 2^-40 for the sizes used here).
inline uint64_t below(std::mt19937_64& rng, uint64_t n) { return rng() % n; }

}  // namespace electra
