// Image files written by tests: raw bytes, JPEG encoding, and tiny image-folder
// data sets that a model learns in a few steps, so trainer tests run in seconds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ewgs::test {

/// Writes `bytes` to `path` (parent folders created).
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

/// JPEG bytes of interleaved pixels (3 channels RGB, 1 gray, 4 CMYK) at `quality`,
/// 4:4:4 (or gray) subsampling.
std::vector<uint8_t> encode_jpeg(
    const std::vector<uint8_t>& pixels, int height, int width, int channels, int quality = 100);

/// Writes `root`/<split>/<class>/<i>.jpg: `per_class` 8x8 RGB images per class
/// and split, each class a different colour plus noise fixed by `seed`.
/// `splits` maps a split name to its class names.
void write_tiny_image_folder(
    const std::string& root,
    const std::map<std::string, std::vector<std::string>>& splits,
    int per_class,
    uint32_t seed = 1);

}  // namespace ewgs::test
