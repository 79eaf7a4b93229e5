// Internal: a minimal parallel-for over index ranges on std::threads that hands the
// first exception back to the caller, for decoding whole data sets up front.
#pragma once

#include <cstdint>
#include <functional>

namespace ewgs::data::detail {

/// `threads` if positive, else the number of hardware threads (at least 1).
int64_t resolve_threads(int64_t threads);

/// Calls `body(begin, end)` on chunks of [0, n) of about `grain` indices from
/// `threads` threads (<= 0: hardware threads). After the first exception no new
/// chunk starts; that exception is rethrown once all threads have stopped.
void parallel_for(
    int64_t n,
    int64_t threads,
    int64_t grain,
    const std::function<void(int64_t begin, int64_t end)>& body);

}  // namespace ewgs::data::detail
