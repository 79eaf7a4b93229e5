// Image folders in ImageNet / torchvision ImageFolder layout, root/<class>/**/*.jpg,
// decoded on demand in loader workers or, when small, decoded once into memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/dataset.h"
#include "ewgs/data/in_memory_dataset.h"

namespace ewgs::data {

/// When an image folder decodes all its images up front into memory.
enum class FolderCache {
  /// When the first image's size times the file count fits `cache_limit_bytes`;
  /// falls back to decoding on demand if the images turn out to differ in size.
  kAuto,
  /// Always; images of different sizes are an error.
  kAlways,
  /// Never: every read decodes the file.
  kNever,
};

/// Options of ImageFolderDataset.
struct ImageFolderOptions {
  FolderCache cache = FolderCache::kAuto;
  /// Largest decoded size (N x 3 x H x W bytes) that kAuto keeps in memory.
  int64_t cache_limit_bytes = int64_t{1} << 30;
  /// Threads that decode the cache; <= 0: hardware threads.
  int64_t threads = 0;
  /// Name of the set in logs and errors ("imagefolder", "cifar10-jpeg").
  std::string kind = "imagefolder";
};

/// The images under `folder/CLASS/` (subfolders included), with extension .jpg,
/// .jpeg or .png in any case. Classes are the sorted subfolder names, labelled
/// 0, 1, ... in that order; files are sorted by path within each class, as in
/// torchvision's ImageFolder. Samples are RGB: HWC views when decoded on demand,
/// CHW views when cached. Errors name the folder or file: missing folder, no
/// class folders, a class folder without images, an undecodable image.
class ImageFolderDataset : public Dataset {
 public:
  explicit ImageFolderDataset(const std::string& folder, ImageFolderOptions options = {});

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  const std::vector<std::string>& class_names() const override { return classes_; }
  /// {3, H, W} when cached, else {3, -1, -1}: sizes are not checked up front.
  std::vector<int64_t> image_shape() const override;
  std::string name() const override { return name_; }
  void read(int64_t index, Sample& out) const override;
  /// The file of sample `index`.
  std::string describe(int64_t index) const override;

  /// The folder holding the class folders.
  const std::string& folder() const { return folder_; }
  /// Path of every sample, in sample order.
  const std::vector<std::string>& files() const { return files_; }
  /// Label of every sample, in sample order.
  const std::vector<int64_t>& labels() const { return labels_; }
  /// The decoded images when cached, else null.
  const std::shared_ptr<InMemoryDataset>& cache() const { return cache_; }

 private:
  /// Decodes every image into memory; returns false (and caches nothing) when
  /// `fallback_on_size_mismatch` and the images differ in size.
  bool build_cache(bool fallback_on_size_mismatch, int64_t threads);

  std::string folder_;
  std::string name_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  std::shared_ptr<InMemoryDataset> cache_;
};

/// Opens split `split` of an ImageFolder tree: `root/split/CLASS/...`; an
/// error lists the splits found when `root`/`split` is missing.
std::shared_ptr<ImageFolderDataset> open_image_folder(
    const std::string& root, const std::string& split, ImageFolderOptions options = {});

}  // namespace ewgs::data
