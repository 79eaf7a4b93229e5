// How the engine spreads loops over its threads: OpenMP when more than one thread
// is asked for, a plain loop otherwise (a one-thread OpenMP region still costs a
// microsecond or so, which adds up over the many small operations of a batch of 1).
#pragma once

#include <cstdint>

namespace ewgs::infer {

/// Calls body(i) for i in [0, n), over `threads` threads (static schedule).
template <typename Body>
void parallel_for(int64_t n, int threads, Body&& body) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) {
      body(i);
    }
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    body(i);
  }
}

}  // namespace ewgs::infer
