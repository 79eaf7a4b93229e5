// Run-time choice of the kernel path (include/ewgs/infer/kernel_path.h) from the
// CPU's features, with EWGS_INFER_KERNELS to force one (tests cover every path).
#include "ewgs/infer/kernel_path.h"

#include <cstdlib>

#include "ewgs/infer/error.h"

namespace ewgs::infer {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("popcnt");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512vpopcntdq");
#else
  return false;
#endif
}

}  // namespace

const char* to_string(KernelPath path) {
  switch (path) {
    case KernelPath::kReference:
      return "reference";
    case KernelPath::kPortable:
      return "portable";
    case KernelPath::kAvx2:
      return "avx2";
    case KernelPath::kAvx512:
      return "avx512";
  }
  return "?";
}

KernelPath kernel_path_from_string(const std::string& name) {
  for (const auto p :
       {KernelPath::kReference, KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
    if (name == to_string(p)) {
      return p;
    }
  }
  throw Error("unknown kernel path '" + name + "'; expected reference, portable, avx2 or avx512");
}

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__) && defined(__GNUC__)
  return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

std::vector<KernelPath> available_kernel_paths() {
  std::vector<KernelPath> paths = {KernelPath::kReference, KernelPath::kPortable};
  if (cpu_has_avx2()) {
    paths.push_back(KernelPath::kAvx2);
  }
  if (cpu_has_avx512()) {
    paths.push_back(KernelPath::kAvx512);
  }
  return paths;
}

KernelPath default_kernel_path() {
  const auto paths = available_kernel_paths();
  const char* forced = std::getenv("EWGS_INFER_KERNELS");
  if (forced == nullptr || *forced == '\0') {
    return paths.back();
  }
  const auto path = kernel_path_from_string(forced);
  for (const auto p : paths) {
    if (p == path) {
      return path;
    }
  }
  throw Error(
      std::string("EWGS_INFER_KERNELS=") + forced + ": this CPU cannot run the " + forced +
      " kernels");
}

}  // namespace ewgs::infer
