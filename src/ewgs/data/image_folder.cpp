// ImageFolder-style data sets (include/ewgs/data/image_folder.h).
#include "ewgs/data/image_folder.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <utility>

#include "ewgs/core/strings.h"
#include "ewgs/data/image_decode.h"
#include "parallel.h"

namespace ewgs::data {
namespace fs = std::filesystem;
namespace {

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

/// Sorted names of the folders in `dir` (links to folders included).
std::vector<std::string> subfolders(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  TORCH_CHECK(!ec, "cannot list folder '", dir, "': ", ec.message());
  for (const fs::directory_iterator end; it != end; it.increment(ec)) {
    TORCH_CHECK(!ec, "cannot list folder '", dir, "': ", ec.message());
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      names.push_back(it->path().filename().string());
    }
  }
  TORCH_CHECK(!ec, "cannot list folder '", dir, "': ", ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

/// Image files under `dir` (recursively, following links), ordered like
/// torchvision: folders by path, files by name within a folder.
std::vector<std::string> image_files(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  TORCH_CHECK(!ec, "cannot list folder '", dir.string(), "': ", ec.message());
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    TORCH_CHECK(!ec, "cannot list folder '", dir.string(), "': ", ec.message());
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && is_image_file(it->path())) {
      found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
    }
  }
  TORCH_CHECK(!ec, "cannot list folder '", dir.string(), "': ", ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  files.reserve(found.size());
  for (const auto& [folder, file] : found) {
    files.push_back(folder + "/" + file);
  }
  return files;
}

}  // namespace

ImageFolderDataset::ImageFolderDataset(const std::string& folder, ImageFolderOptions options)
    : folder_(folder), name_(options.kind + " (" + folder + ")") {
  std::error_code ec;
  TORCH_CHECK(
      fs::is_directory(folder, ec),
      options.kind,
      ": image folder '",
      folder,
      "' does not exist or is not a folder");
  classes_ = subfolders(folder);
  TORCH_CHECK(
      !classes_.empty(),
      options.kind,
      ": no class folders in '",
      folder,
      "' (expected ",
      folder,
      "/<class>/<image>.jpg)");
  for (size_t c = 0; c < classes_.size(); ++c) {
    const std::vector<std::string> found = image_files(fs::path(folder) / classes_[c]);
    TORCH_CHECK(
        !found.empty(),
        options.kind,
        ": class folder '",
        folder,
        "/",
        classes_[c],
        "' has no .jpg, .jpeg or .png images");
    files_.insert(files_.end(), found.begin(), found.end());
    labels_.insert(labels_.end(), found.size(), static_cast<int64_t>(c));
  }
  if (options.cache == FolderCache::kAlways) {
    build_cache(false, options.threads);
  } else if (options.cache == FolderCache::kAuto) {
    const ImageSize first = read_image_file_size(files_.front());
    const double estimate = 3.0 * static_cast<double>(first.height) *
                            static_cast<double>(first.width) * static_cast<double>(files_.size());
    if (estimate <= static_cast<double>(options.cache_limit_bytes)) {
      build_cache(true, options.threads);
    }
  }
}

bool ImageFolderDataset::build_cache(bool fallback_on_size_mismatch, int64_t threads) {
  std::vector<uint8_t> first_pixels;
  const ImageSize first = decode_image_file(files_.front(), first_pixels);
  const int64_t n = size();
  const int64_t h = first.height;
  const int64_t w = first.width;
  at::Tensor images = at::empty({n, 3, h, w}, at::kByte);
  uint8_t* pixels = images.data_ptr<uint8_t>();
  std::atomic<bool> mismatch{false};
  detail::parallel_for(n, threads, 64, [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> rgb;
    for (int64_t i = begin; i < end && !mismatch.load(std::memory_order_relaxed); ++i) {
      const ImageSize got = decode_image_file(files_[static_cast<size_t>(i)], rgb);
      if (got.height != h || got.width != w) {
        TORCH_CHECK(
            fallback_on_size_mismatch,
            files_[static_cast<size_t>(i)],
            ": image is ",
            got.height,
            "x",
            got.width,
            " but '",
            files_.front(),
            "' is ",
            h,
            "x",
            w,
            "; caching an image folder in memory needs images of one size");
        mismatch = true;
        return;
      }
      uint8_t* dst = pixels + i * 3 * h * w;
      const int64_t plane = h * w;
      for (int64_t p = 0; p < plane; ++p) {
        dst[p] = rgb[3 * p];
        dst[plane + p] = rgb[3 * p + 1];
        dst[2 * plane + p] = rgb[3 * p + 2];
      }
    }
  });
  if (mismatch) {
    return false;
  }
  at::Tensor labels = at::empty({n}, at::kLong);
  std::copy(labels_.begin(), labels_.end(), labels.data_ptr<int64_t>());
  cache_ = std::make_shared<InMemoryDataset>(std::move(images), std::move(labels), classes_, name_);
  return true;
}

std::vector<int64_t> ImageFolderDataset::image_shape() const {
  if (cache_) {
    return cache_->image_shape();
  }
  return {3, -1, -1};
}

void ImageFolderDataset::read(int64_t index, Sample& out) const {
  if (cache_) {
    cache_->read(index, out);
    return;
  }
  check_index(index);
  const ImageSize size = decode_image_file(files_[static_cast<size_t>(index)], out.buffer);
  out.image = ImageView::hwc(out.buffer.data(), 3, size.height, size.width);
  out.label = labels_[static_cast<size_t>(index)];
}

std::string ImageFolderDataset::describe(int64_t index) const {
  if (index >= 0 && index < size()) {
    return files_[static_cast<size_t>(index)];
  }
  return Dataset::describe(index);
}

std::shared_ptr<ImageFolderDataset> open_image_folder(
    const std::string& root, const std::string& split, ImageFolderOptions options) {
  const std::string folder = root + "/" + split;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    const std::vector<std::string> splits =
        fs::is_directory(root, ec) ? subfolders(root) : std::vector<std::string>{};
    TORCH_CHECK(
        false,
        options.kind,
        ": split folder '",
        folder,
        "' does not exist",
        splits.empty() ? std::string(" (nor any split folder in '" + root + "')")
                       : "; found: " + join(splits, ", "));
  }
  return std::make_shared<ImageFolderDataset>(folder, std::move(options));
}

}  // namespace ewgs::data
