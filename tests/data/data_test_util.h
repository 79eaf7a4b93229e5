// Helpers of the data tests: a scratch folder per test and writers of small IDX,
// gzip, CIFAR, JPEG and PNG files, so every reader is tested on known bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/dataset.h"
#include "support/support.h"

namespace ewgs::data::test {

/// A fresh scratch folder for each test, removed afterwards.
class DataTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  /// `dir_`/`name`, creating parent folders.
  std::string path(const std::string& name) const;

  std::string dir_;
};

/// Writes `bytes` to `path` (parent folders created).
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

/// Writes `bytes` gzip-compressed to `path`.
void write_gzip_file(const std::string& path, const std::vector<uint8_t>& bytes);

/// An IDX file of unsigned bytes: magic 0x0800 | dims.size(), big-endian dims, data.
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data);

/// JPEG bytes of interleaved pixels (3 channels RGB, 1 gray, 4 CMYK) at `quality`,
/// 4:4:4 (or gray) subsampling.
std::vector<uint8_t> encode_jpeg(
    const std::vector<uint8_t>& pixels, int height, int width, int channels, int quality = 100);

/// Writes an 8-bit RGB (channels 3) or RGBA (channels 4) PNG.
void write_png(
    const std::string& path,
    const std::vector<uint8_t>& pixels,
    int height,
    int width,
    int channels);

/// Folder where the CIFAR-10 JPEG copy is extracted for tests (the build tree).
std::string data_cache_dir();

/// The shared CIFAR-10 JPEG archive, or "" when it is missing.
std::string cifar10_jpeg_archive();

/// Split `split` of the real CIFAR-10 JPEG copy (extracted once into
/// data_cache_dir(), decoded once per process), or null when the archive is missing.
std::shared_ptr<const Dataset> real_cifar10_jpeg(const std::string& split);

}  // namespace ewgs::data::test
