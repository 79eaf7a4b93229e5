// Reader of the IDX format of MNIST and Fashion-MNIST (plain or .gz), turning an
// images/labels file pair into an InMemoryDataset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/in_memory_dataset.h"

namespace ewgs::data {

/// The dimensions and uint8 payload of one IDX file.
struct IdxFile {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

/// Reads an IDX file of unsigned bytes with `expected_dims` dimensions (3 for
/// images, 1 for labels); names ending in ".gz" are inflated with zlib. Errors on
/// a wrong magic number and on a payload shorter or longer than the header says.
IdxFile read_idx_file(const std::string& path, int64_t expected_dims);

/// The IDX file whose whole content is `bytes`, checked like read_idx_file;
/// `name` stands for its path in errors.
IdxFile parse_idx(std::vector<uint8_t> bytes, const std::string& name, int64_t expected_dims);

/// Loads split "train" (train-*) or "test" (t10k-*) of an MNIST-style set from
/// `root`, which holds `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte`,
/// each plain or with ".gz". Images become (N,1,H,W); `kind` names the set in errors.
std::shared_ptr<InMemoryDataset> load_idx_dataset(
    const std::string& root,
    const std::string& split,
    std::vector<std::string> class_names,
    const std::string& kind);

/// Fashion-MNIST (default root /usr/share/datasets/fashion-mnist, Debian's
/// dataset-fashion-mnist package) with its 10 class names.
std::shared_ptr<InMemoryDataset> load_fashion_mnist(
    const std::string& root, const std::string& split);

/// MNIST with classes "0".."9".
std::shared_ptr<InMemoryDataset> load_mnist(const std::string& root, const std::string& split);

/// "T-shirt/top", "Trouser", ..., "Ankle boot".
const std::vector<std::string>& fashion_mnist_class_names();

/// "0", "1", ..., "9".
const std::vector<std::string>& mnist_class_names();

}  // namespace ewgs::data
