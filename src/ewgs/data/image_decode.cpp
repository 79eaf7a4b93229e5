// JPEG and PNG decoding into interleaved RGB (include/ewgs/data/image_decode.h).
#include "ewgs/data/image_decode.h"

#include <c10/util/Exception.h>
#include <png.h>
#include <turbojpeg.h>

#include <cstring>

#include "file_io.h"

namespace ewgs::data {
namespace {

enum class Format { kJpeg, kPng };

Format sniff(const uint8_t* data, size_t size, const std::string& name) {
  TORCH_CHECK(size > 0, name, ": cannot decode image: empty file");
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    return Format::kJpeg;
  }
  static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size >= 8 && std::memcmp(data, png_magic, 8) == 0) {
    return Format::kPng;
  }
  static const char* digits = "0123456789abcdef";
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(size, 4); ++i) {
    head += std::string(i == 0 ? "" : " ") + digits[data[i] >> 4] + digits[data[i] & 0xf];
  }
  TORCH_CHECK(
      false, name, ": cannot decode image: not a JPEG or PNG file (starts with bytes ", head, ")");
}

/// One TurboJPEG decompressor per thread, destroyed when the thread ends.
class JpegDecoder {
 public:
  JpegDecoder() : handle_(tjInitDecompress()) {}
  ~JpegDecoder() {
    if (handle_ != nullptr) {
      tjDestroy(handle_);
    }
  }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  tjhandle get(const std::string& name) const {
    TORCH_CHECK(handle_ != nullptr, name, ": cannot create a TurboJPEG decompressor");
    return handle_;
  }

 private:
  tjhandle handle_;
};

tjhandle jpeg_decoder(const std::string& name) {
  thread_local JpegDecoder decoder;
  return decoder.get(name);
}

struct JpegHeader {
  ImageSize size;
  int colorspace = 0;
};

JpegHeader jpeg_header(tjhandle tj, const uint8_t* data, size_t size, const std::string& name) {
  int width = 0;
  int height = 0;
  int subsampling = 0;
  int colorspace = 0;
  const int rc = tjDecompressHeader3(
      tj, data, static_cast<unsigned long>(size), &width, &height, &subsampling, &colorspace);
  TORCH_CHECK(rc == 0, name, ": cannot decode JPEG header: ", tjGetErrorStr2(tj));
  TORCH_CHECK(
      width > 0 && height > 0,
      name,
      ": cannot decode JPEG header: image size ",
      width,
      "x",
      height);
  return {{height, width}, colorspace};
}

/// Fails unless `rc` is success or a warning other than a truncated file.
void check_jpeg_result(int rc, tjhandle tj, const std::string& name) {
  if (rc == 0) {
    return;
  }
  const std::string message = tjGetErrorStr2(tj);
  const bool warning = tjGetErrorCode(tj) == TJERR_WARNING;
  TORCH_CHECK(
      warning && message.find("Premature end") == std::string::npos,
      name,
      ": cannot decode JPEG: ",
      message);
}

ImageSize decode_jpeg(
    const uint8_t* data, size_t size, const std::string& name, std::vector<uint8_t>& rgb) {
  tjhandle tj = jpeg_decoder(name);
  const JpegHeader header = jpeg_header(tj, data, size, name);
  const int64_t h = header.size.height;
  const int64_t w = header.size.width;
  const auto width = static_cast<int>(w);
  const auto height = static_cast<int>(h);
  const auto bytes = static_cast<unsigned long>(size);
  if (header.colorspace == TJCS_CMYK || header.colorspace == TJCS_YCCK) {
    thread_local std::vector<uint8_t> cmyk;
    cmyk.resize(static_cast<size_t>(h * w * 4));
    check_jpeg_result(
        tjDecompress2(tj, data, bytes, cmyk.data(), width, 0, height, TJPF_CMYK, 0), tj, name);
    rgb.resize(static_cast<size_t>(h * w * 3));
    for (int64_t i = 0; i < h * w; ++i) {
      // Adobe CMYK is stored inverted: a byte is 255 minus the ink amount.
      const unsigned k = cmyk[4 * i + 3];
      for (int c = 0; c < 3; ++c) {
        rgb[3 * i + c] = static_cast<uint8_t>((cmyk[4 * i + c] * k + 127) / 255);
      }
    }
    return header.size;
  }
  rgb.resize(static_cast<size_t>(h * w * 3));
  check_jpeg_result(
      tjDecompress2(tj, data, bytes, rgb.data(), width, 0, height, TJPF_RGB, 0), tj, name);
  return header.size;
}

/// Frees a png_image on scope exit (a no-op once libpng has freed it).
struct PngImage {
  png_image image;
  PngImage() {
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
  }
  ~PngImage() { png_image_free(&image); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

void png_begin(PngImage& png, const uint8_t* data, size_t size, const std::string& name) {
  TORCH_CHECK(
      png_image_begin_read_from_memory(&png.image, data, size) != 0,
      name,
      ": cannot decode PNG header: ",
      png.image.message);
  TORCH_CHECK(
      png.image.width > 0 && png.image.height > 0,
      name,
      ": cannot decode PNG header: image size ",
      png.image.width,
      "x",
      png.image.height);
}

ImageSize decode_png(
    const uint8_t* data, size_t size, const std::string& name, std::vector<uint8_t>& rgb) {
  PngImage png;
  png_begin(png, data, size, name);
  const ImageSize out{png.image.height, png.image.width};
  const bool alpha = (png.image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  // Transparency is dropped, not composited, as PIL's convert("RGB") does.
  thread_local std::vector<uint8_t> rgba;
  png.image.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  std::vector<uint8_t>& target = alpha ? rgba : rgb;
  target.resize(PNG_IMAGE_SIZE(png.image));
  TORCH_CHECK(
      png_image_finish_read(&png.image, nullptr, target.data(), 0, nullptr) != 0,
      name,
      ": cannot decode PNG: ",
      png.image.message);
  if (alpha) {
    const int64_t pixels = out.height * out.width;
    rgb.resize(static_cast<size_t>(pixels * 3));
    for (int64_t i = 0; i < pixels; ++i) {
      rgb[3 * i] = rgba[4 * i];
      rgb[3 * i + 1] = rgba[4 * i + 1];
      rgb[3 * i + 2] = rgba[4 * i + 2];
    }
  }
  return out;
}

}  // namespace

ImageSize decode_image(
    const uint8_t* data, size_t size, const std::string& name, std::vector<uint8_t>& rgb) {
  if (sniff(data, size, name) == Format::kJpeg) {
    return decode_jpeg(data, size, name, rgb);
  }
  return decode_png(data, size, name, rgb);
}

ImageSize read_image_size(const uint8_t* data, size_t size, const std::string& name) {
  if (sniff(data, size, name) == Format::kJpeg) {
    return jpeg_header(jpeg_decoder(name), data, size, name).size;
  }
  PngImage png;
  png_begin(png, data, size, name);
  return {png.image.height, png.image.width};
}

ImageSize decode_image_file(const std::string& path, std::vector<uint8_t>& rgb) {
  thread_local std::vector<uint8_t> bytes;
  detail::read_file(path, bytes);
  return decode_image(bytes.data(), bytes.size(), path, rgb);
}

ImageSize read_image_file_size(const std::string& path) {
  thread_local std::vector<uint8_t> bytes;
  detail::read_file(path, bytes);
  return read_image_size(bytes.data(), bytes.size(), path);
}

}  // namespace ewgs::data
