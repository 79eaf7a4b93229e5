// The input and interval checks that CUDA forwards leave on the device while a CUDA
// graph is captured (include/ewgs/kernels/interval_quant.h, DeferredQuantizerCheck),
// and the errors their flags stand for.
#include <mutex>
#include <utility>

#include "ewgs/kernels/interval_quant.h"

namespace ewgs::kernels {
namespace {

std::mutex g_mutex;
std::vector<DeferredQuantizerCheck> g_checks;

}  // namespace

std::string quantizer_check_failure(int flag, const std::string& what) {
  if ((flag & kIntervalNotOrdered) != 0) {
    return what + ": the interval needs l < u";
  }
  if ((flag & kInputNotFinite) != 0) {
    return what + ": input has non-finite values (NaN or Inf)";
  }
  return "";
}

void defer_quantizer_check(at::Tensor flag, std::string what) {
  const std::lock_guard<std::mutex> lock(g_mutex);
  g_checks.push_back({std::move(flag), std::move(what)});
}

std::vector<DeferredQuantizerCheck> take_deferred_quantizer_checks() {
  const std::lock_guard<std::mutex> lock(g_mutex);
  return std::exchange(g_checks, {});
}

}  // namespace ewgs::kernels
