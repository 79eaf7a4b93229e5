// Decoding of JPEG (libjpeg-turbo's TurboJPEG) and PNG (libpng) files into
// interleaved 8-bit RGB, the pixel source of image-folder data sets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ewgs::data {

/// Height and width of a decoded image in pixels.
struct ImageSize {
  int64_t height = 0;
  int64_t width = 0;
};

/// Decodes the JPEG or PNG image in `data[0, size)` into `rgb` as interleaved
/// (H,W,3) bytes, resizing `rgb` as needed. Grayscale becomes 3 equal channels,
/// CMYK JPEGs are converted assuming Adobe's inverted CMYK, PNG transparency is
/// dropped (like PIL's convert("RGB")). The format is recognized from the first bytes.
/// Errors name `name` (usually the file path), e.g. for a truncated JPEG.
ImageSize decode_image(
    const uint8_t* data, size_t size, const std::string& name, std::vector<uint8_t>& rgb);

/// Reads only the header of the JPEG or PNG image in `data[0, size)`.
ImageSize read_image_size(const uint8_t* data, size_t size, const std::string& name);

/// Reads the file at `path` and decodes it like `decode_image`. Thread-safe; the
/// file buffer and decoder are reused per thread.
ImageSize decode_image_file(const std::string& path, std::vector<uint8_t>& rgb);

/// Reads the file at `path` and returns its size like `read_image_size`.
ImageSize read_image_file_size(const std::string& path);

}  // namespace ewgs::data
