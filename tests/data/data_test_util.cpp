// Implementation of the data test helpers (data_test_util.h).
#include "data_test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "ewgs/data/open_dataset.h"

namespace ewgs::data::test {
namespace fs = std::filesystem;

void DataTest::SetUp() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = (fs::temp_directory_path() / ("ewgs-data-test-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(counter++) + "-" + info->name()))
             .string();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
}

void DataTest::TearDown() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string DataTest::path(const std::string& name) const {
  const fs::path p = fs::path(dir_) / name;
  fs::create_directories(p.parent_path());
  return p.string();
}

void write_gzip_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  gzFile file = gzopen(path.c_str(), "wb");
  TORCH_CHECK(file != nullptr, "cannot write ", path);
  const int written = gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
  TORCH_CHECK(written == static_cast<int>(bytes.size()), "cannot write ", path);
}

std::vector<uint8_t> idx_bytes(
    const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (const uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<uint8_t>(d >> shift));
    }
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_png(
    const std::string& path,
    const std::vector<uint8_t>& pixels,
    int height,
    int width,
    int channels) {
  fs::create_directories(fs::path(path).parent_path());
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  const int ok = png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0, nullptr);
  TORCH_CHECK(ok != 0, "cannot write PNG ", path, ": ", image.message);
}

void write_tar_gz(const std::string& path, const std::vector<TarMember>& members) {
  fs::create_directories(fs::path(path).parent_path());
  struct archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  TORCH_CHECK(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK, "cannot write ", path);
  for (const auto& m : members) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, m.name.c_str());
    archive_entry_set_perm(entry, 0644);
    switch (m.kind) {
      case TarMember::Kind::kFile:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, static_cast<la_int64_t>(m.content.size()));
        break;
      case TarMember::Kind::kFolder:
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case TarMember::Kind::kSymlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, m.link.c_str());
        break;
      case TarMember::Kind::kHardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_hardlink(entry, m.link.c_str());
        break;
    }
    TORCH_CHECK(
        archive_write_header(a, entry) == ARCHIVE_OK,
        "cannot add ",
        m.name,
        ": ",
        archive_error_string(a));
    if (!m.content.empty()) {
      archive_write_data(a, m.content.data(), m.content.size());
    }
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::string data_cache_dir() {
  return EWGS_DATA_CACHE_DIR;
}

std::string cifar10_jpeg_archive() {
  const std::string archive = ewgs::test::shared_data_path("cifar10-jpeg.tar.gz");
  return fs::exists(archive) ? archive : "";
}

}  // namespace ewgs::data::test

namespace ewgs::data::test {

std::shared_ptr<const Dataset> real_cifar10_jpeg(const std::string& split) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Dataset>> opened;
  std::lock_guard<std::mutex> lock(mutex);
  if (cifar10_jpeg_archive().empty()) {
    return nullptr;
  }
  auto& slot = opened[split];
  if (!slot) {
    OpenOptions options;
    options.cache_dir = data_cache_dir();
    slot = open_dataset("cifar10-jpeg", cifar10_jpeg_archive(), split, options);
  }
  return slot;
}

}  // namespace ewgs::data::test
