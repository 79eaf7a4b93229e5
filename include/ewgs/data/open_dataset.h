// One entry point from a config's data.dataset / data.root / data.split to a data
// set, so the trainer does not know about file formats.
#pragma once

#include <memory>
#include <string>

#include "ewgs/data/dataset.h"
#include "ewgs/data/dataset_kinds.h"

namespace ewgs::data {

/// Opens split `split` of a data set of kind `kind`:
///   "fashion-mnist"  IDX files (plain or .gz) in root, default
///                    /usr/share/datasets/fashion-mnist; splits train, test
///   "mnist"          the same layout; splits train, test
///   "cifar10"        CIFAR-10 binary (data_batch_*.bin, test_batch.bin); train, test
///   "cifar100"       CIFAR-100 binary (train.bin, test.bin), fine labels; train, test
///   "cifar10-jpeg"   the CIFAR-10 JPEG copy: root is the folder holding
///                    train/ and test/, its parent holding cifar10-jpeg/, or the
///                    .tar.gz archive (extracted once into the cache folder)
///   "imagefolder"    `root/SPLIT/CLASS/*.{jpg,jpeg,png}`; "imagenet" is the same
///                    with ImageNet's presets
/// The kinds are the data-set table's (dataset_kinds.h). An empty root means the
/// kind's default root; kinds without one need a root. An unknown kind is an error
/// listing the known ones.
std::shared_ptr<Dataset> open_dataset(
    const std::string& kind,
    const std::string& root,
    const std::string& split,
    const OpenOptions& options = {});

}  // namespace ewgs::data
