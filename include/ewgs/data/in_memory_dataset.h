// A data set held as one uint8 image tensor and one label tensor: what the IDX and
// CIFAR readers return, what small image folders are decoded into, and what
// GPU-resident pipelines can copy to the device in one go.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/dataset.h"

namespace ewgs::data {

/// Images uint8 (N,C,H,W) contiguous on the CPU and labels int64 (N).
/// `read` returns CHW views into `images()` without copying.
class InMemoryDataset : public Dataset {
 public:
  /// Checks dtypes, shapes and that every label lies in [0, class_names.size());
  /// `name` appears in errors and logs.
  InMemoryDataset(
      at::Tensor images, at::Tensor labels, std::vector<std::string> class_names, std::string name);

  int64_t size() const override { return size_; }
  int64_t num_classes() const override { return static_cast<int64_t>(class_names_.size()); }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  std::vector<int64_t> image_shape() const override { return {channels_, height_, width_}; }
  std::string name() const override { return name_; }
  void read(int64_t index, Sample& out) const override;

  /// All images, uint8 (N,C,H,W). Normalize with `normalize_images` (transforms.h)
  /// to get one float tensor for a GPU-resident pipeline.
  const at::Tensor& images() const { return images_; }
  /// All labels, int64 (N).
  const at::Tensor& labels() const { return labels_; }

 private:
  at::Tensor images_;
  at::Tensor labels_;
  std::vector<std::string> class_names_;
  std::string name_;
  int64_t size_ = 0;
  int64_t channels_ = 0;
  int64_t height_ = 0;
  int64_t width_ = 0;
  const uint8_t* pixels_ = nullptr;
  const int64_t* label_data_ = nullptr;
};

/// Reads every sample of `dataset` (all of one size) into an InMemoryDataset with
/// `threads` threads (<= 0: hardware threads). Errors name the first sample that
/// fails or whose size differs from sample 0.
std::shared_ptr<InMemoryDataset> load_in_memory(const Dataset& dataset, int64_t threads = 0);

}  // namespace ewgs::data
