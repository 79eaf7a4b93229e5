// Epoch orders from the counter-based generator (include/ewgs/data/sample_rng.h).
#include "ewgs/data/sample_rng.h"

#include <c10/util/Exception.h>

#include <numeric>
#include <utility>

namespace ewgs::data {

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  TORCH_CHECK(n >= 0, "epoch_order: sample count must be >= 0, got ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle) {
    CounterRng rng = CounterRng::for_shuffle(seed, epoch);
    for (int64_t i = n - 1; i > 0; --i) {
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.below(i + 1))]);
    }
  }
  return order;
}

}  // namespace ewgs::data
