// CPU thread configuration (include/ewgs/core/threads.h).
#include "ewgs/core/threads.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <thread>

namespace ewgs {

int64_t set_cpu_threads(int64_t requested) {
  const int64_t threads =
      requested > 0 ? requested : std::max<int64_t>(1, std::thread::hardware_concurrency());
  at::set_num_threads(static_cast<int>(threads));
  return threads;
}

}  // namespace ewgs
