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

/// This process's part of a data-parallel run.
struct DataShard {
  /// Every training and test batch is split into `ranks` shards (shard_range);
  /// this process gets shard `rank`.
  int64_t rank = 0;
  int64_t ranks = 1;
  /// Processes sharing this machine's cores: each gets its share of loader threads.
  int64_t local_processes = 1;
  /// The CUDA device of a cuda run (-1: the current one).
  int64_t cuda_index = -1;
};

class DataPipeline {
 public:
  /// Opens the data set; without `with_train` only the test split is opened.
  DataPipeline(const TrainConfig& config, bool with_train, DataShard shard = {});

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

  /// Batch `batch` of epoch `epoch` of the training split, all shards of it:
  /// what one process would train on at that step.
  data::Batch whole_train_batch(int64_t epoch, int64_t batch);

 private:
  std::unique_ptr<data::BatchSource> make_source(
      const std::shared_ptr<data::Dataset>& set,
      const data::TransformOptions& transform,
      const data::LoaderOptions& options) const;

  data::LoaderOptions train_options() const;

  const TrainConfig& config_;
  DataShard shard_;
  c10::Device device_;
  bool resident_ = false;
  std::shared_ptr<data::Dataset> train_set_;
  std::unique_ptr<data::BatchSource> train_;
  std::unique_ptr<data::BatchSource> test_;
  std::unique_ptr<data::BatchSource> hessian_;
  std::vector<std::string> class_names_;
  int64_t channels_ = 0;
};

}  // namespace ewgs::train
