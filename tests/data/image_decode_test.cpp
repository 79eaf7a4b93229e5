// JPEG and PNG decoding: round trips through TurboJPEG and libpng encoders, gray and
// CMYK conversion, and errors for truncated, foreign and empty files.
#include "ewgs/data/image_decode.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "data_test_util.h"

namespace ewgs::data {
namespace {

using test::DataTest;
using test::encode_jpeg;
using test::write_file;
using test::write_png;

/// Interleaved pixels with a smooth pattern: (y * 7 + x * 3 + 50 * c) % 256.
std::vector<uint8_t> pattern(int height, int width, int channels) {
  std::vector<uint8_t> p;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        p.push_back(static_cast<uint8_t>((y * 7 + x * 3 + 50 * c) % 256));
      }
    }
  }
  return p;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  int worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::abs(int{a[i]} - int{b[i]}));
  }
  return worst;
}

TEST_F(DataTest, DecodesRgbJpeg) {
  const auto pixels = pattern(12, 20, 3);
  const auto jpeg = encode_jpeg(pixels, 12, 20, 3);
  write_file(path("a.jpg"), jpeg);
  std::vector<uint8_t> rgb;
  const ImageSize size = decode_image_file(path("a.jpg"), rgb);
  EXPECT_EQ(size.height, 12);
  EXPECT_EQ(size.width, 20);
  EXPECT_LE(max_abs_diff(rgb, pixels), 3);
  const ImageSize header = read_image_file_size(path("a.jpg"));
  EXPECT_EQ(header.height, 12);
  EXPECT_EQ(header.width, 20);
}

TEST_F(DataTest, GrayJpegBecomesThreeEqualChannels) {
  const auto gray = pattern(8, 8, 1);
  std::vector<uint8_t> rgb;
  const auto jpeg = encode_jpeg(gray, 8, 8, 1);
  decode_image(jpeg.data(), jpeg.size(), "gray.jpg", rgb);
  ASSERT_EQ(rgb.size(), 8u * 8u * 3u);
  std::vector<uint8_t> first;
  for (size_t i = 0; i < 64; ++i) {
    EXPECT_EQ(rgb[3 * i], rgb[3 * i + 1]);
    EXPECT_EQ(rgb[3 * i], rgb[3 * i + 2]);
    first.push_back(rgb[3 * i]);
  }
  EXPECT_LE(max_abs_diff(first, gray), 2);
}

TEST_F(DataTest, CmykJpegIsConvertedAsInvertedAdobeCmyk) {
  // Stored (inverted) C=255 M=128 Y=0 K=255: red 255, green 128, blue 0.
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 16 * 16; ++i) {
    cmyk.insert(cmyk.end(), {255, 128, 0, 255});
  }
  const auto jpeg = encode_jpeg(cmyk, 16, 16, 4);
  std::vector<uint8_t> rgb;
  decode_image(jpeg.data(), jpeg.size(), "cmyk.jpg", rgb);
  ASSERT_EQ(rgb.size(), 16u * 16u * 3u);
  EXPECT_NEAR(rgb[0], 255, 2);
  EXPECT_NEAR(rgb[1], 128, 2);
  EXPECT_NEAR(rgb[2], 0, 2);
}

TEST_F(DataTest, DecodesPngExactlyAndDropsAlpha) {
  const auto pixels = pattern(5, 7, 3);
  write_png(path("a.png"), pixels, 5, 7, 3);
  std::vector<uint8_t> rgb;
  const ImageSize size = decode_image_file(path("a.png"), rgb);
  EXPECT_EQ(size.height, 5);
  EXPECT_EQ(size.width, 7);
  EXPECT_EQ(rgb, pixels);

  auto rgba = pattern(5, 7, 4);
  for (size_t i = 3; i < rgba.size(); i += 4) {
    rgba[i] = static_cast<uint8_t>(i % 3 == 0 ? 0 : 128);  // partly transparent
  }
  write_png(path("b.png"), rgba, 5, 7, 4);
  decode_image_file(path("b.png"), rgb);
  ASSERT_EQ(rgb.size(), 5u * 7u * 3u);
  for (size_t i = 0; i < 35; ++i) {
    EXPECT_EQ(rgb[3 * i], rgba[4 * i]);
    EXPECT_EQ(rgb[3 * i + 2], rgba[4 * i + 2]);
  }
}

TEST_F(DataTest, TruncatedJpegIsAnErrorNamingTheFile) {
  auto jpeg = encode_jpeg(pattern(32, 32, 3), 32, 32, 3);
  jpeg.resize(jpeg.size() / 2);
  write_file(path("cut.jpg"), jpeg);
  std::vector<uint8_t> rgb;
  EWGS_EXPECT_THROWS_WITH(
      decode_image_file(path("cut.jpg"), rgb), path("cut.jpg") + ": cannot decode JPEG: ");
}

TEST_F(DataTest, CorruptJpegHeaderIsAnError) {
  write_file(path("bad.jpg"), {0xFF, 0xD8, 0xFF, 0x00, 0x12, 0x34, 0x56});
  std::vector<uint8_t> rgb;
  EWGS_EXPECT_THROWS_WITH(
      decode_image_file(path("bad.jpg"), rgb), path("bad.jpg") + ": cannot decode JPEG header");
}

TEST_F(DataTest, ForeignEmptyAndMissingFilesAreErrors) {
  std::vector<uint8_t> rgb;
  write_file(path("x.jpg"), {'G', 'I', 'F', '8', '9', 'a'});
  EWGS_EXPECT_THROWS_WITH(
      decode_image_file(path("x.jpg"), rgb),
      path("x.jpg") +
          ": cannot decode image: not a JPEG or PNG file (starts with bytes 47 49 46 38)");
  write_file(path("empty.png"), {});
  EWGS_EXPECT_THROWS_WITH(
      decode_image_file(path("empty.png"), rgb),
      path("empty.png") + ": cannot decode image: empty");
  EWGS_EXPECT_THROWS_WITH(
      decode_image_file(path("none.jpg"), rgb),
      "data file " + path("none.jpg") + " does not exist");
}

TEST_F(DataTest, TruncatedPngIsAnError) {
  write_png(path("a.png"), pattern(20, 20, 3), 20, 20, 3);
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(path("a.png"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes.resize(bytes.size() - 30);
  write_file(path("a.png"), bytes);
  std::vector<uint8_t> rgb;
  EWGS_EXPECT_THROWS_WITH(
      decode_image_file(path("a.png"), rgb), path("a.png") + ": cannot decode PNG");
}

}  // namespace
}  // namespace ewgs::data
