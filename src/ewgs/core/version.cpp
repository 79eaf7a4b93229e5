// Version strings (include/ewgs/core/version.h).
#include "ewgs/core/version.h"
#include "ewgs/version.h"

#include <torch/version.h>

namespace ewgs {

const char* version() {
  return EWGS_VERSION_STRING;
}

bool built_with_cuda() {
#if defined(EWGS_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

std::string version_banner() {
  return std::string("ewgs ") + version() + " (LibTorch " + TORCH_VERSION + ", CUDA " +
         (built_with_cuda() ? "on" : "off") + ")";
}

}  // namespace ewgs
