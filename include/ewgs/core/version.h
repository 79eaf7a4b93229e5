// Version of ewgs and of the LibTorch it was built against, for --version and logs.
#pragma once

#include <string>

namespace ewgs {

/// "0.1.0".
const char* version();

/// "ewgs 0.1.0 (LibTorch 1.13.0, CUDA off)".
std::string version_banner();

/// Whether the library was built with its CUDA kernels.
bool built_with_cuda();

}  // namespace ewgs
