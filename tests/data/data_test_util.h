// Helpers of the data tests: a scratch folder per test and writers of small IDX,
// gzip, CIFAR, JPEG and PNG files, so every reader is tested on known bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/dataset.h"
#include "support/image_files.h"
#include "support/support.h"

namespace ewgs::data::test {

using ewgs::test::encode_jpeg;
using ewgs::test::write_file;

/// A fresh scratch folder for each test, removed afterwards.
class DataTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  /// `dir_`/`name`, creating parent folders.
  std::string path(const std::string& name) const;

  std::string dir_;
};

/// Writes `bytes` gzip-compressed to `path`.
void write_gzip_file(const std::string& path, const std::vector<uint8_t>& bytes);

/// An IDX file of unsigned bytes: magic 0x0800 | dims.size(), big-endian dims, data.
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data);

/// Writes an 8-bit RGB (channels 3) or RGBA (channels 4) PNG.
void write_png(
    const std::string& path,
    const std::vector<uint8_t>& pixels,
    int height,
    int width,
    int channels);

/// A member of a tar archive written by write_tar_gz: a file with `content`, a
/// folder (name ending in '/'), or a symbolic or hard link to `link`.
struct TarMember {
  enum class Kind { kFile, kFolder, kSymlink, kHardlink };
  std::string name;
  Kind kind = Kind::kFile;
  std::vector<uint8_t> content;
  std::string link;
};

/// Writes a gzip-compressed tar archive of `members` (names taken as they are,
/// unsafe ones included) with libarchive.
void write_tar_gz(const std::string& path, const std::vector<TarMember>& members);

/// Folder where the CIFAR-10 JPEG copy is extracted for tests (the build tree).
std::string data_cache_dir();

/// The shared CIFAR-10 JPEG archive, or "" when it is missing.
std::string cifar10_jpeg_archive();

/// Split `split` of the real CIFAR-10 JPEG copy (extracted once into
/// data_cache_dir(), decoded once per process), or null when the archive is missing.
std::shared_ptr<const Dataset> real_cifar10_jpeg(const std::string& split);

}  // namespace ewgs::data::test
