// A data set resident on one device (the GPU) with augmentation done there by
// tensor ops: no host work and no host synchronization per batch. Its batches are
// identical to the threaded DataLoader's for the same seed, epoch and transform.
#pragma once

#include <c10/core/Device.h>

#include <memory>

#include "ewgs/data/in_memory_dataset.h"
#include "ewgs/data/loader.h"

namespace ewgs::data {

/// Whether DeviceLoader supports `transform`: random crop with zero padding,
/// flip and normalization (no resizing or center crop).
bool device_transform_supported(const TransformOptions& transform);

/// Batches of an in-memory data set built on `device`.
///
/// start_epoch() uploads the epoch's order and every sample's crop offsets and
/// flip (drawn exactly as DataLoader draws them, from (seed, epoch, position));
/// next() gathers, pads, crops, flips and normalizes one batch with tensor ops
/// queued on the device.
///
/// Example:
///   DeviceLoader loader(dataset, train_transform("cifar10"), options, torch::kCUDA);
///   loader.start_epoch(epoch);
///   while (auto batch = loader.next()) { ... }  // batch->images on the GPU
class DeviceLoader : public BatchSource {
 public:
  DeviceLoader(
      const InMemoryDataset& dataset,
      TransformOptions transform,
      LoaderOptions options,
      c10::Device device);
  ~DeviceLoader() override;

  void start_epoch(int64_t epoch, int64_t skip_batches = 0) override;
  std::optional<Batch> next() override;
  int64_t batches_per_epoch() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewgs::data
