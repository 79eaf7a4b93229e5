// Internal parallel-for on std::threads (parallel.h).
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ewgs::data::detail {

int64_t resolve_threads(int64_t threads) {
  if (threads > 0) {
    return threads;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
}

void parallel_for(
    int64_t n,
    int64_t threads,
    int64_t grain,
    const std::function<void(int64_t begin, int64_t end)>& body) {
  if (n <= 0) {
    return;
  }
  grain = std::max<int64_t>(1, grain);
  const int64_t chunks = (n + grain - 1) / grain;
  const int64_t count = std::min(resolve_threads(threads), chunks);
  if (count <= 1) {
    body(0, n);
    return;
  }
  std::atomic<int64_t> next_chunk{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto run = [&]() {
    while (!failed.load(std::memory_order_relaxed)) {
      const int64_t chunk = next_chunk.fetch_add(1);
      if (chunk >= chunks) {
        return;
      }
      try {
        body(chunk * grain, std::min(n, (chunk + 1) * grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) {
          first_error = std::current_exception();
        }
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(count - 1));
  for (int64_t t = 1; t < count; ++t) {
    pool.emplace_back(run);
  }
  run();
  for (auto& thread : pool) {
    thread.join();
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

}  // namespace ewgs::data::detail
