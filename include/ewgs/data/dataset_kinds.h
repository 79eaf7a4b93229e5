// The data-set table: what ewgs knows about each kind of data set (how it is opened,
// where it lives by default, how its images are normalized and augmented) in one
// entry, as quantizers and models have theirs. data.dataset accepts its names.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/dataset.h"
#include "ewgs/data/image_folder.h"
#include "ewgs/data/transforms.h"

namespace ewgs::data {

/// Options of open_dataset beyond kind, root and split.
struct OpenOptions {
  /// Caching and threads of image folders ("cifar10-jpeg", "imagefolder"); its
  /// `kind` is set by open_dataset.
  ImageFolderOptions folder;
  /// Where archives given as root are extracted; empty: default_cache_dir().
  std::string cache_dir;
};

/// Per-channel mean and standard deviation of pixel values / 255; one value
/// stands for every channel.
struct Normalization {
  std::vector<double> mean;
  std::vector<double> std;
};

/// One entry of the table (its name and one-line description are the
/// registry entry's).
struct DatasetKind {
  /// Where it is read from when data.root is empty; empty when there is none.
  std::string default_root;
  Normalization normalization;
  /// Augmentation of the training split and transform of evaluation, without
  /// mean and std (train_transform and eval_transform add the normalization).
  TransformOptions train;
  TransformOptions eval;
  /// Opens split `split` at `root` (not empty).
  std::function<std::shared_ptr<Dataset>(
      const std::string& root, const std::string& split, const OpenOptions& options)>
      open;
};

/// The entry of `kind`; an unknown kind is an error naming the closest known one
/// and listing them all.
const DatasetKind& dataset_kind(const std::string& kind);

/// The kinds in the table, in the order they were added.
std::vector<std::string> dataset_kinds();

/// The kind's default root; empty when it has none.
std::string default_root(const std::string& kind);

/// The kind's normalization: Fashion-MNIST (0.2860, 0.3530), MNIST (0.1307,
/// 0.3081), CIFAR-10 and cifar10-jpeg (the official EWGS code's values),
/// CIFAR-100, and ImageNet's for "imagefolder" and "imagenet".
Normalization default_normalization(const std::string& kind);

/// Training preset of a kind: its normalization plus, for CIFAR, crop 32 with
/// padding 4 and flip; for image folders RandomResizedCrop 224 and flip.
/// Fashion-MNIST and MNIST get no augmentation (set crop_padding = 2, flip =
/// true to add it).
TransformOptions train_transform(const std::string& kind);

/// Evaluation preset: normalization only; image folders Resize 256 + CenterCrop 224.
TransformOptions eval_transform(const std::string& kind);

}  // namespace ewgs::data
