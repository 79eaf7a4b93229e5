// Counter-based random numbers: every sample's augmentation and every epoch's order
// derive from (seed, epoch, position) alone, so results do not depend on which
// thread did the work or where a resumed run restarted.
#pragma once

#include <cstdint>
#include <vector>

namespace ewgs::data {

/// The splitmix64 finalizer: a bijective 64-bit mix with good avalanche.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/// A small generator whose whole state is a hash of its key: two generators with
/// the same key give the same numbers, different keys give independent streams.
///
/// Example:
///   CounterRng rng = CounterRng::for_sample(seed, epoch, position);
///   bool flip = rng.uniform() < 0.5;
class CounterRng {
 public:
  /// Stream of sample number `position` of epoch `epoch` (augmentation).
  static CounterRng for_sample(uint64_t seed, int64_t epoch, int64_t position) {
    return CounterRng(seed, 0x5a3c1e0f00000001ULL, epoch, position);
  }
  /// Stream of the order of epoch `epoch` (shuffling).
  static CounterRng for_shuffle(uint64_t seed, int64_t epoch) {
    return CounterRng(seed, 0x5a3c1e0f00000002ULL, epoch, 0);
  }

  CounterRng(uint64_t seed, uint64_t domain, int64_t a, int64_t b)
      : state_(mix64(
            mix64(mix64(seed ^ domain) + static_cast<uint64_t>(a)) + static_cast<uint64_t>(b))) {}

  /// Next 64 random bits (the splitmix64 sequence from the hashed key).
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n) for n >= 1 (bias below 2^-53 * n).
  int64_t below(int64_t n) {
    const auto k = static_cast<int64_t>(uniform() * static_cast<double>(n));
    return k < n ? k : n - 1;
  }

 private:
  uint64_t state_;
};

/// The order in which epoch `epoch` visits `n` samples: 0..n-1 without `shuffle`,
/// else a Fisher-Yates permutation that depends only on (seed, epoch).
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch);

}  // namespace ewgs::data
