// CPU thread count of LibTorch's intra-op pool. Debian's LibTorch starts with one
// thread, so every entry point sets it explicitly.
#pragma once

#include <cstdint>

namespace ewgs {

/// Sets LibTorch's intra-op threads to `requested`, or to all hardware threads
/// when `requested` <= 0; returns the count set.
int64_t set_cpu_threads(int64_t requested);

}  // namespace ewgs
