// The data set factory (include/ewgs/data/open_dataset.h), built on the core Registry
// so an unknown kind gets a "did you mean" suggestion.
#include "ewgs/data/open_dataset.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <functional>

#include "ewgs/core/registry.h"
#include "ewgs/core/strings.h"
#include "ewgs/data/archive.h"
#include "ewgs/data/cifar_binary.h"
#include "ewgs/data/idx.h"

namespace ewgs::data {
namespace {

using OpenFn = std::function<std::shared_ptr<Dataset>(
    const std::string& root, const std::string& split, const OpenOptions& options)>;

std::shared_ptr<Dataset> open_folder(
    const std::string& root,
    const std::string& split,
    const OpenOptions& options,
    const std::string& kind) {
  ImageFolderOptions folder = options.folder;
  folder.kind = kind;
  return open_image_folder(root, split, folder);
}

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
  return open_folder(folder, split, options, "cifar10-jpeg");
}

const Registry<OpenFn>& registry() {
  static const Registry<OpenFn> r = [] {
    Registry<OpenFn> reg("data set");
    reg.add("fashion-mnist", "Fashion-MNIST IDX files", [](auto& root, auto& split, auto&) {
      return std::shared_ptr<Dataset>(load_fashion_mnist(root, split));
    });
    reg.add("mnist", "MNIST IDX files", [](auto& root, auto& split, auto&) {
      return std::shared_ptr<Dataset>(load_mnist(root, split));
    });
    reg.add("cifar10", "CIFAR-10 binary version", [](auto& root, auto& split, auto&) {
      return std::shared_ptr<Dataset>(load_cifar10_binary(root, split));
    });
    reg.add("cifar100", "CIFAR-100 binary version", [](auto& root, auto& split, auto&) {
      return std::shared_ptr<Dataset>(load_cifar100_binary(root, split));
    });
    reg.add("cifar10-jpeg", "CIFAR-10 as JPEG image folders", open_cifar10_jpeg);
    reg.add("imagefolder", "root/<split>/<class>/*.jpg", [](auto& root, auto& split, auto& o) {
      return open_folder(root, split, o, "imagefolder");
    });
    reg.add("imagenet", "ImageNet as image folders", [](auto& root, auto& split, auto& o) {
      return open_folder(root, split, o, "imagenet");
    });
    return reg;
  }();
  return r;
}

}  // namespace

std::shared_ptr<Dataset> open_dataset(
    const std::string& kind,
    const std::string& root,
    const std::string& split,
    const OpenOptions& options) {
  const auto& entry = registry().get(kind);
  std::string where = root.empty() ? default_root(kind) : root;
  TORCH_CHECK(
      !where.empty(), "data set '", kind, "' has no default root; set data.root to its folder");
  TORCH_CHECK(!split.empty(), "data set '", kind, "': data.split must not be empty");
  return entry.factory(where, split, options);
}

std::vector<std::string> dataset_kinds() {
  return registry().names();
}

std::string default_root(const std::string& kind) {
  if (kind == "fashion-mnist") {
    return "/usr/share/datasets/fashion-mnist";
  }
  return "";
}

}  // namespace ewgs::data
