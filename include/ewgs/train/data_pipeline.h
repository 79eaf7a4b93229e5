// The data of a run, built from its [data] config: the training and test
// loaders, and batches for Hessian delta updates.
#pragma once

#include <memory>
#include <vector>

#include "ewgs/data/loader.h"
#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/train/train_config.h"

namespace ewgs::train {

class DataPipeline {
 public:
  /// Opens the data set; without `with_train` only the test split is opened.
  DataPipeline(const TrainConfig& config, bool with_train);

  data::DataLoader& train() { return *train_; }
  data::DataLoader& test() { return *test_; }
  int64_t num_classes() const { return num_classes_; }
  int64_t channels() const { return channels_; }

  /// The first hessian.batches batches (of hessian.batch_size) of a shuffled,
  /// augmented pass over the training split; `update` numbers the updates so
  /// each one sees other batches, reproducibly.
  std::vector<hessian::Batch> hessian_batches(int64_t update);

 private:
  const TrainConfig& config_;
  std::shared_ptr<data::Dataset> train_set_;
  std::unique_ptr<data::DataLoader> train_;
  std::unique_ptr<data::DataLoader> test_;
  std::unique_ptr<data::DataLoader> hessian_;
  int64_t num_classes_ = 0;
  int64_t channels_ = 0;
};

} // namespace ewgs::train
