// The data of a run, built from its [data] config: the training and test batch
// sources (threaded loaders, or device-resident ones for GPU runs), and batches
// for Hessian delta updates.
#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "ewgs/data/loader.h"
#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/train/train_config.h"

namespace ewgs::train {

class DataPipeline {
 public:
  /// Opens the data set; without `with_train` only the test split is opened.
  DataPipeline(const TrainConfig& config, bool with_train);

  data::BatchSource& train() { return *train_; }
  data::BatchSource& test() { return *test_; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names_.size()); }
  /// Class names in label order (the same for both splits, checked).
  const std::vector<std::string>& class_names() const { return class_names_; }
  int64_t channels() const { return channels_; }
  /// Whether batches are built on the run's device (data.device_resident).
  bool device_resident() const { return resident_; }

  /// The first hessian.batches batches (of hessian.batch_size) of a shuffled,
  /// augmented pass over the training split; `update` numbers the updates so
  /// each one sees other batches, reproducibly.
  std::vector<hessian::Batch> hessian_batches(int64_t update);

 private:
  std::unique_ptr<data::BatchSource> make_source(
      const std::shared_ptr<data::Dataset>& set,
      const data::TransformOptions& transform,
      const data::LoaderOptions& options) const;

  const TrainConfig& config_;
  c10::Device device_;
  bool resident_ = false;
  std::shared_ptr<data::Dataset> train_set_;
  std::unique_ptr<data::BatchSource> train_;
  std::unique_ptr<data::BatchSource> test_;
  std::unique_ptr<data::BatchSource> hessian_;
  std::vector<std::string> class_names_;
  int64_t channels_ = 0;
};

} // namespace ewgs::train
