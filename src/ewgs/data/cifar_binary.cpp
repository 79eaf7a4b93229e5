// CIFAR-10/100 binary readers (include/ewgs/data/cifar_binary.h).
#include "ewgs/data/cifar_binary.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "ewgs/core/strings.h"
#include "file_io.h"

namespace ewgs::data {
namespace {

constexpr int64_t kImageBytes = 3 * 32 * 32;

/// How one CIFAR variant is laid out on disk.
struct Layout {
  std::string kind;
  std::string subfolder;
  int64_t label_bytes;
  int64_t label_offset;
  std::string names_file;
  const std::vector<std::string>* default_names;
};

/// `root` if it holds `first_file`, else `root/subfolder` if that does, else an error.
std::string resolve_root(const std::string& root, const Layout& layout, const std::string& file) {
  if (detail::is_file(root + "/" + file)) {
    return root;
  }
  const std::string nested = root + "/" + layout.subfolder;
  if (detail::is_file(nested + "/" + file)) {
    return nested;
  }
  C10_THROW_ERROR(
      Error,
      c10::str(
          layout.kind,
          ": missing file '",
          root,
          "/",
          file,
          "' (also tried '",
          nested,
          "/",
          file,
          "')"));
}

std::vector<std::string> class_names(const std::string& folder, const Layout& layout) {
  const std::string path = folder + "/" + layout.names_file;
  if (!detail::is_file(path)) {
    return *layout.default_names;
  }
  std::ifstream in(path);
  TORCH_CHECK(in.good(), layout.kind, ": cannot read '", path, "'");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (!line.empty()) {
      names.push_back(line);
    }
  }
  TORCH_CHECK(
      names.size() == layout.default_names->size(),
      path,
      ": expected ",
      layout.default_names->size(),
      " class names (one a line), got ",
      names.size());
  return names;
}

std::shared_ptr<InMemoryDataset> load_cifar(
    const std::string& root,
    const std::string& split,
    const Layout& layout,
    const std::vector<std::string>& files) {
  const std::string folder = resolve_root(root, layout, files.front());
  const int64_t record = layout.label_bytes + kImageBytes;
  const auto classes = static_cast<int64_t>(layout.default_names->size());
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const auto& file : files) {
    const std::string path = folder + "/" + file;
    TORCH_CHECK(detail::is_file(path), layout.kind, ": missing file '", path, "'");
    const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
    TORCH_CHECK(size > 0, path, ": empty file, expected ", record, "-byte records");
    TORCH_CHECK(
        size % record == 0,
        path,
        ": truncated record: file size ",
        size,
        " is not a multiple of the ",
        record,
        "-byte record size (",
        size / record,
        " records and ",
        size % record,
        " extra bytes)");
    counts.push_back(size / record);
    total += size / record;
  }
  at::Tensor images = at::empty({total, 3, 32, 32}, at::kByte);
  at::Tensor labels = at::empty({total}, at::kLong);
  uint8_t* pixels = images.data_ptr<uint8_t>();
  int64_t* label_data = labels.data_ptr<int64_t>();
  int64_t index = 0;
  std::vector<uint8_t> bytes;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string path = folder + "/" + files[f];
    detail::read_file(path, bytes);
    TORCH_CHECK(
        static_cast<int64_t>(bytes.size()) == counts[f] * record,
        path,
        ": file changed while reading (",
        bytes.size(),
        " bytes, expected ",
        counts[f] * record,
        ")");
    for (int64_t r = 0; r < counts[f]; ++r, ++index) {
      const uint8_t* rec = bytes.data() + r * record;
      const int64_t label = rec[layout.label_offset];
      TORCH_CHECK(
          label < classes,
          path,
          ": label ",
          label,
          " of record ",
          r,
          " is out of range [0, ",
          classes,
          ")");
      label_data[index] = label;
      std::memcpy(pixels + index * kImageBytes, rec + layout.label_bytes, kImageBytes);
    }
  }
  return std::make_shared<InMemoryDataset>(
      std::move(images),
      std::move(labels),
      class_names(folder, layout),
      layout.kind + " " + split + " (" + folder + ")");
}

void check_split(const std::string& kind, const std::string& split) {
  TORCH_CHECK(
      split == "train" || split == "test",
      kind,
      ": split must be 'train' or 'test', got '",
      split,
      "'");
}

}  // namespace

std::shared_ptr<InMemoryDataset> load_cifar10_binary(
    const std::string& root, const std::string& split) {
  check_split("cifar10", split);
  const Layout layout{
      "cifar10", "cifar-10-batches-bin", 1, 0, "batches.meta.txt", &cifar10_class_names()};
  std::vector<std::string> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) {
      files.push_back("data_batch_" + std::to_string(i) + ".bin");
    }
  } else {
    files.push_back("test_batch.bin");
  }
  return load_cifar(root, split, layout, files);
}

std::shared_ptr<InMemoryDataset> load_cifar100_binary(
    const std::string& root, const std::string& split) {
  check_split("cifar100", split);
  const Layout layout{
      "cifar100", "cifar-100-binary", 2, 1, "fine_label_names.txt", &cifar100_class_names()};
  return load_cifar(root, split, layout, {split + ".bin"});
}

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return names;
}

const std::vector<std::string>& cifar100_class_names() {
  static const std::vector<std::string> names = {
      "apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
      "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
      "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
      "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
      "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
      "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
      "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
      "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
      "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
      "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
      "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
      "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
      "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
      "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
      "table",       "tank",          "telephone", "television", "tiger",        "tractor",
      "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
      "willow_tree", "wolf",          "woman",     "worm"};
  return names;
}

}  // namespace ewgs::data
