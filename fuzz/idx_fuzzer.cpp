// libFuzzer target: IDX files (MNIST, Fashion-MNIST) as image or label files;
// every input must parse or fail with a c10::Error, nothing else.
#include <c10/util/Exception.h>

#include <cstdint>
#include <vector>

#include "ewgs/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const int64_t dims : {1, 3}) {
    try {
      const auto file =
          ewgs::data::parse_idx(std::vector<uint8_t>(data, data + size), "input", dims);
      size_t elements = file.dims.empty() ? 0 : 1;
      for (const int64_t d : file.dims) {
        elements *= static_cast<size_t>(d);
      }
      if (elements != file.data.size()) {
        __builtin_trap();  // parse_idx promised dims and data agree
      }
    } catch (const c10::Error&) {
    }
  }
  return 0;
}
