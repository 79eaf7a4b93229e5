// Image files for tests (image_files.h).
#include "support/image_files.h"

#include <c10/util/Exception.h>
#include <turbojpeg.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

namespace ewgs::test {
namespace fs = std::filesystem;

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(
      reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  TORCH_CHECK(out.good(), "cannot write ", path);
}

std::vector<uint8_t> encode_jpeg(
    const std::vector<uint8_t>& pixels, int height, int width, int channels, int quality) {
  tjhandle tj = tjInitCompress();
  TORCH_CHECK(tj != nullptr, "tjInitCompress failed");
  const int format = channels == 1 ? TJPF_GRAY : channels == 4 ? TJPF_CMYK : TJPF_RGB;
  const int subsampling = channels == 1 ? TJSAMP_GRAY : TJSAMP_444;
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(
      tj, pixels.data(), width, 0, height, format, &jpeg, &size, subsampling, quality, 0);
  const std::string error = rc == 0 ? "" : tjGetErrorStr2(tj);
  std::vector<uint8_t> out;
  if (rc == 0) {
    out.assign(jpeg, jpeg + size);
  }
  tjFree(jpeg);
  tjDestroy(tj);
  TORCH_CHECK(rc == 0, "tjCompress2 failed: ", error);
  return out;
}

void write_tiny_image_folder(
    const std::string& root,
    const std::map<std::string, std::vector<std::string>>& splits,
    int per_class,
    uint32_t seed) {
  constexpr int kSide = 8;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-40, 40);
  for (const auto& [split, classes] : splits) {
    for (size_t c = 0; c < classes.size(); ++c) {
      for (int i = 0; i < per_class; ++i) {
        std::vector<uint8_t> pixels(kSide * kSide * 3);
        for (size_t p = 0; p < pixels.size(); ++p) {
          const int base = (p % 3 == c % 3) ? 200 : 50;  // the class's channel is bright
          pixels[p] = static_cast<uint8_t>(std::clamp(base + noise(rng), 0, 255));
        }
        write_file(
            root + "/" + split + "/" + classes[c] + "/" + std::to_string(i) + ".jpg",
            encode_jpeg(pixels, kSide, kSide, 3, 95));
      }
    }
  }
}

}  // namespace ewgs::test
