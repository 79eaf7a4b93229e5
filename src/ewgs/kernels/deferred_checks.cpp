// The non-finite-input checks that CUDA forwards leave on the device while a CUDA
// graph is captured (include/ewgs/kernels/interval_quant.h, DeferredNonFiniteCheck).
#include <mutex>
#include <utility>

#include "ewgs/kernels/interval_quant.h"

namespace ewgs::kernels {
namespace {

std::mutex g_mutex;
std::vector<DeferredNonFiniteCheck> g_checks;

}  // namespace

void defer_non_finite_check(at::Tensor flag, std::string what) {
  const std::lock_guard<std::mutex> lock(g_mutex);
  g_checks.push_back({std::move(flag), std::move(what)});
}

std::vector<DeferredNonFiniteCheck> take_deferred_non_finite_checks() {
  const std::lock_guard<std::mutex> lock(g_mutex);
  return std::exchange(g_checks, {});
}

}  // namespace ewgs::kernels
