// SplitMix64 (Steele, Lea, Flood, OOPSLA 2014): the seed mixer behind every stream of
// random numbers that must differ by one input (LBT's noise per backward, probes per rank).
#pragma once

#include <cstdint>

namespace ewgs::detail {

/// The n-th output of SplitMix64 started at `seed`: seed + n * gamma, mixed.
inline uint64_t splitmix64(uint64_t seed, uint64_t n = 1) {
  uint64_t z = seed + n * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace ewgs::detail
