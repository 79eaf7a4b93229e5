// The data-set table (include/ewgs/data/dataset_kinds.h): one line per kind, on the
// core Registry so an unknown kind gets a "did you mean" suggestion.
#include "ewgs/data/dataset_kinds.h"

#include <filesystem>

#include "ewgs/core/registry.h"
#include "ewgs/core/strings.h"
#include "ewgs/data/archive.h"
#include "ewgs/data/cifar_binary.h"
#include "ewgs/data/idx.h"

namespace ewgs::data {
namespace {

/// Image folders of `kind` (the kind picks the folder scan's class naming).
auto folder_of_kind(const std::string& kind) {
  return [kind](const std::string& root, const std::string& split, const OpenOptions& options) {
    ImageFolderOptions folder = options.folder;
    folder.kind = kind;
    return std::shared_ptr<Dataset>(open_image_folder(root, split, folder));
  };
}

/// The CIFAR-10 JPEG copy: root is the folder holding train/ and test/, its parent
/// holding cifar10-jpeg/, or the .tar.gz archive (extracted once into the cache).
std::shared_ptr<Dataset> open_cifar10_jpeg(
    const std::string& root, const std::string& split, const OpenOptions& options) {
  namespace fs = std::filesystem;
  std::string folder = root;
  std::error_code ec;
  if (ends_with(root, ".tar.gz") || ends_with(root, ".tgz") || ends_with(root, ".tar")) {
    folder = extract_once(
        root, "cifar10-jpeg", options.cache_dir.empty() ? default_cache_dir() : options.cache_dir);
  } else if (
      !fs::is_directory(fs::path(root) / split, ec) &&
      fs::is_directory(fs::path(root) / "cifar10-jpeg", ec)) {
    folder = root + "/cifar10-jpeg";
  }
  return folder_of_kind("cifar10-jpeg")(folder, split, options);
}

/// A loader of whole files that ignores the open options.
template <typename Load>
auto whole_files(Load load) {
  return [load](const std::string& root, const std::string& split, const OpenOptions&) {
    return std::shared_ptr<Dataset>(load(root, split));
  };
}

const Registry<DatasetKind>& table() {
  static const Registry<DatasetKind> r = [] {
    const Normalization cifar10{{0.4914, 0.4822, 0.4465}, {0.2023, 0.1994, 0.2010}};
    const Normalization imagenet{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
    TransformOptions cifar_train;  // crop 32 with padding 4, flip
    cifar_train.crop_padding = 4;
    cifar_train.flip = true;
    TransformOptions folder_train;  // RandomResizedCrop 224, flip
    folder_train.random_resized_crop = 224;
    folder_train.flip = true;
    TransformOptions folder_eval;  // Resize 256, CenterCrop 224
    folder_eval.resize = 256;
    folder_eval.center_crop = 224;

    Registry<DatasetKind> t("data set");
    t.add(
        "fashion-mnist",
        "Fashion-MNIST IDX files (plain or .gz); splits train, test",
        {"/usr/share/datasets/fashion-mnist",
         {{0.2860}, {0.3530}},
         {},
         {},
         whole_files(load_fashion_mnist)});
    t.add(
        "mnist",
        "MNIST IDX files (plain or .gz); splits train, test",
        {"", {{0.1307}, {0.3081}}, {}, {}, whole_files(load_mnist)});
    t.add(
        "cifar10",
        "CIFAR-10 binary version (data_batch_*.bin, test_batch.bin); splits train, test",
        {"", cifar10, cifar_train, {}, whole_files(load_cifar10_binary)});
    t.add(
        "cifar100",
        "CIFAR-100 binary version (train.bin, test.bin), fine labels; splits train, test",
        {"",
         {{0.5071, 0.4865, 0.4409}, {0.2673, 0.2564, 0.2762}},
         cifar_train,
         {},
         whole_files(load_cifar100_binary)});
    t.add(
        "cifar10-jpeg",
        "CIFAR-10 as JPEG image folders, or their .tar.gz archive",
        {"", cifar10, cifar_train, {}, open_cifar10_jpeg});
    t.add(
        "imagefolder",
        "root/<split>/<class>/*.{jpg,jpeg,png}",
        {"", imagenet, folder_train, folder_eval, folder_of_kind("imagefolder")});
    t.add(
        "imagenet",
        "ImageNet as image folders",
        {"", imagenet, folder_train, folder_eval, folder_of_kind("imagenet")});
    return t;
  }();
  return r;
}

/// `preset` with the kind's mean and std.
TransformOptions normalized(TransformOptions preset, const Normalization& norm) {
  preset.mean = norm.mean;
  preset.std = norm.std;
  return preset;
}

}  // namespace

const DatasetKind& dataset_kind(const std::string& kind) {
  return table().get(kind).factory;
}

std::vector<std::string> dataset_kinds() {
  return table().names();
}

std::string default_root(const std::string& kind) {
  return dataset_kind(kind).default_root;
}

Normalization default_normalization(const std::string& kind) {
  return dataset_kind(kind).normalization;
}

TransformOptions train_transform(const std::string& kind) {
  const auto& entry = dataset_kind(kind);
  return normalized(entry.train, entry.normalization);
}

TransformOptions eval_transform(const std::string& kind) {
  const auto& entry = dataset_kind(kind);
  return normalized(entry.eval, entry.normalization);
}

}  // namespace ewgs::data
