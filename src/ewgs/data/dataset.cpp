// Shared parts of the Dataset interface (include/ewgs/data/dataset.h).
#include "ewgs/data/dataset.h"

#include <c10/util/Exception.h>

#include <string>

namespace ewgs::data {

ImageView ImageView::chw(const uint8_t* data, int64_t channels, int64_t height, int64_t width) {
  return {data, channels, height, width, height * width, width, 1};
}

ImageView ImageView::hwc(const uint8_t* data, int64_t channels, int64_t height, int64_t width) {
  return {data, channels, height, width, 1, width * channels, channels};
}

std::string Dataset::describe(int64_t index) const {
  return "sample " + std::to_string(index) + " of " + name();
}

Sample Dataset::get(int64_t index) const {
  Sample sample;
  read(index, sample);
  return sample;
}

bool Dataset::fixed_image_size() const {
  for (const int64_t d : image_shape()) {
    if (d < 0) {
      return false;
    }
  }
  return true;
}

void Dataset::check_index(int64_t index) const {
  TORCH_CHECK(
      index >= 0 && index < size(),
      name(),
      ": sample index ",
      index,
      " is out of range [0, ",
      size(),
      ")");
}

}  // namespace ewgs::data
