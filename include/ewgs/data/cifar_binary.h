// Readers of the CIFAR-10 and CIFAR-100 binary versions (fixed-size records of
// label bytes followed by a 3x32x32 CHW image) into an InMemoryDataset.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/in_memory_dataset.h"

namespace ewgs::data {

/// CIFAR-10 binary: split "train" reads data_batch_1.bin .. data_batch_5.bin, "test"
/// reads test_batch.bin (3073-byte records: label, 3072 bytes CHW). `root` is the
/// folder with the files or its parent holding cifar-10-batches-bin/. Class names
/// come from batches.meta.txt when present.
std::shared_ptr<InMemoryDataset> load_cifar10_binary(
    const std::string& root, const std::string& split);

/// CIFAR-100 binary: train.bin or test.bin (3074-byte records: coarse label, fine
/// label, image); labels are the 100 fine labels. `root` is the folder with the
/// files or its parent holding cifar-100-binary/. Class names come from
/// fine_label_names.txt when present.
std::shared_ptr<InMemoryDataset> load_cifar100_binary(
    const std::string& root, const std::string& split);

/// "airplane", "automobile", ..., "truck".
const std::vector<std::string>& cifar10_class_names();

/// The 100 fine label names, "apple" .. "worm".
const std::vector<std::string>& cifar100_class_names();

}  // namespace ewgs::data
