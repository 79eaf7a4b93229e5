// IDX reader for MNIST and Fashion-MNIST (include/ewgs/data/idx.h).
#include "ewgs/data/idx.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <utility>

#include "file_io.h"

namespace ewgs::data {
namespace {

std::string hex32(uint32_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) {
    out += digits[(value >> shift) & 0xf];
  }
  return out;
}

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

/// `root/name` if it exists, else `root/name.gz`, else an error naming both.
std::string find_idx(const std::string& root, const std::string& name, const std::string& kind) {
  const std::string plain = root + "/" + name;
  if (detail::is_file(plain)) {
    return plain;
  }
  if (detail::is_file(plain + ".gz")) {
    return plain + ".gz";
  }
  C10_THROW_ERROR(
      Error, c10::str(kind, ": missing file '", plain, "' (also tried '", plain, ".gz')"));
}

}  // namespace

IdxFile read_idx_file(const std::string& path, int64_t expected_dims) {
  return parse_idx(detail::read_maybe_gzip_file(path), path, expected_dims);
}

IdxFile parse_idx(std::vector<uint8_t> bytes, const std::string& path, int64_t expected_dims) {
  const uint32_t expected_magic = 0x0800u | static_cast<uint32_t>(expected_dims);
  TORCH_CHECK(
      bytes.size() >= 4,
      path,
      ": too short for an IDX file (",
      bytes.size(),
      " bytes; expected magic ",
      hex32(expected_magic),
      ")");
  const uint32_t magic = big_endian32(bytes.data());
  TORCH_CHECK(
      magic == expected_magic,
      path,
      ": wrong IDX magic number ",
      hex32(magic),
      ", expected ",
      hex32(expected_magic),
      " (unsigned bytes, ",
      expected_dims,
      " dimensions)");
  const size_t header = 4 + 4 * static_cast<size_t>(expected_dims);
  TORCH_CHECK(
      bytes.size() >= header,
      path,
      ": truncated IDX header: ",
      bytes.size(),
      " bytes, expected at least ",
      header);
  IdxFile out;
  size_t payload = 1;
  bool overflow = false;
  std::string shape;
  for (int64_t d = 0; d < expected_dims; ++d) {
    const uint32_t size = big_endian32(bytes.data() + 4 + 4 * d);
    out.dims.push_back(size);
    overflow = overflow || __builtin_mul_overflow(payload, size_t{size}, &payload);
    shape += (d == 0 ? "" : "x") + std::to_string(size);
  }
  TORCH_CHECK(!overflow, path, ": IDX header says ", shape, ", more bytes than any file can hold");
  const size_t actual = bytes.size() - header;
  TORCH_CHECK(
      actual == payload,
      path,
      actual < payload ? ": truncated: " : ": trailing data: ",
      "header says ",
      shape,
      " = ",
      payload,
      " bytes of data, file has ",
      actual);
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  out.data = std::move(bytes);
  return out;
}

std::shared_ptr<InMemoryDataset> load_idx_dataset(
    const std::string& root,
    const std::string& split,
    std::vector<std::string> class_names,
    const std::string& kind) {
  TORCH_CHECK(
      split == "train" || split == "test",
      kind,
      ": split must be 'train' or 'test', got '",
      split,
      "'");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images_path = find_idx(root, prefix + "-images-idx3-ubyte", kind);
  const std::string labels_path = find_idx(root, prefix + "-labels-idx1-ubyte", kind);
  const IdxFile images = read_idx_file(images_path, 3);
  const IdxFile labels = read_idx_file(labels_path, 1);
  TORCH_CHECK(
      images.dims[0] == labels.dims[0],
      kind,
      ": '",
      images_path,
      "' has ",
      images.dims[0],
      " images but '",
      labels_path,
      "' has ",
      labels.dims[0],
      " labels");
  const int64_t n = images.dims[0];
  const auto classes = static_cast<int64_t>(class_names.size());
  at::Tensor label_tensor = at::empty({n}, at::kLong);
  int64_t* label_data = label_tensor.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = labels.data[static_cast<size_t>(i)];
    TORCH_CHECK(
        label < classes,
        labels_path,
        ": label ",
        label,
        " of sample ",
        i,
        " is out of range [0, ",
        classes,
        ")");
    label_data[i] = label;
  }
  at::Tensor image_tensor = at::empty({n, 1, images.dims[1], images.dims[2]}, at::kByte);
  if (!images.data.empty()) {
    std::memcpy(image_tensor.data_ptr<uint8_t>(), images.data.data(), images.data.size());
  }
  return std::make_shared<InMemoryDataset>(
      std::move(image_tensor),
      std::move(label_tensor),
      std::move(class_names),
      kind + " " + split + " (" + root + ")");
}

std::shared_ptr<InMemoryDataset> load_fashion_mnist(
    const std::string& root, const std::string& split) {
  return load_idx_dataset(root, split, fashion_mnist_class_names(), "fashion-mnist");
}

std::shared_ptr<InMemoryDataset> load_mnist(const std::string& root, const std::string& split) {
  return load_idx_dataset(root, split, mnist_class_names(), "mnist");
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {
      "T-shirt/top",
      "Trouser",
      "Pullover",
      "Dress",
      "Coat",
      "Sandal",
      "Shirt",
      "Sneaker",
      "Bag",
      "Ankle boot"};
  return names;
}

const std::vector<std::string>& mnist_class_names() {
  static const std::vector<std::string> names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return names;
}

}  // namespace ewgs::data
