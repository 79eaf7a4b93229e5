// libFuzzer target: JPEG and PNG decoding (libjpeg-turbo, libpng) behind ewgs's
// decoder; sizes reported by the header reader must match the decoded image.
#include <c10/util/Exception.h>

#include <cstdint>
#include <vector>

#include "ewgs/data/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::vector<uint8_t> rgb;
    const auto decoded = ewgs::data::decode_image(data, size, "input", rgb);
    if (rgb.size() != static_cast<size_t>(decoded.height * decoded.width * 3)) {
      __builtin_trap();
    }
    const auto header = ewgs::data::read_image_size(data, size, "input");
    if (header.height != decoded.height || header.width != decoded.width) {
      __builtin_trap();
    }
  } catch (const c10::Error&) {
  }
  return 0;
}
