// Loaders of a run (include/ewgs/train/data_pipeline.h).
#include "ewgs/train/data_pipeline.h"

#include <c10/util/Exception.h>

#include "ewgs/data/open_dataset.h"
#include "ewgs/data/transforms.h"

namespace ewgs::train {
namespace {

/// Seeds of the Hessian batches differ from the training order's.
constexpr uint64_t kHessianSeedOffset = 0x9e3779b97f4a7c15ULL;

int64_t workers(const TrainConfig& config) {
  return config.data_workers > 0 ? config.data_workers : data::hardware_threads();
}

} // namespace

DataPipeline::DataPipeline(const TrainConfig& config, bool with_train) : config_(config) {
  const auto& kind = config.data_dataset;
  auto test_set = data::open_dataset(kind, config.data_root, config.data_test_split);
  data::LoaderOptions test_options;
  test_options.batch_size = config.train_batch_size;
  test_options.shuffle = false;
  test_options.workers = workers(config);
  test_ = std::make_unique<data::DataLoader>(test_set, data::eval_transform(kind), test_options);
  num_classes_ = test_set->num_classes();
  channels_ = test_set->image_shape()[0];
  if (!with_train) {
    return;
  }
  train_set_ = data::open_dataset(kind, config.data_root, config.data_train_split);
  TORCH_CHECK(
      train_set_->num_classes() == num_classes_,
      "data: the train split has ",
      train_set_->num_classes(),
      " classes but the test split has ",
      num_classes_);
  const auto transform = config.data_augment ? data::train_transform(kind) : data::eval_transform(kind);
  data::LoaderOptions train_options;
  train_options.batch_size = config.train_batch_size;
  train_options.shuffle = true;
  train_options.seed = static_cast<uint64_t>(config.run_seed);
  train_options.workers = workers(config);
  train_ = std::make_unique<data::DataLoader>(train_set_, transform, train_options);
}

std::vector<hessian::Batch> DataPipeline::hessian_batches(int64_t update) {
  TORCH_CHECK(train_set_, "hessian batches need the training split");
  if (!hessian_) {
    const auto& kind = config_.data_dataset;
    data::LoaderOptions options;
    options.batch_size =
        config_.hessian_batch_size > 0 ? config_.hessian_batch_size : config_.train_batch_size;
    options.shuffle = true;
    options.drop_last = true;
    options.seed = static_cast<uint64_t>(config_.run_seed) ^ kHessianSeedOffset;
    options.workers = workers(config_);
    options.prefetch = config_.hessian_batches;
    hessian_ = std::make_unique<data::DataLoader>(
        train_set_, config_.data_augment ? data::train_transform(kind) : data::eval_transform(kind), options);
  }
  TORCH_CHECK(
      hessian_->batches_per_epoch() >= config_.hessian_batches,
      "hessian.batches = ",
      config_.hessian_batches,
      " but the training split has only ",
      hessian_->batches_per_epoch(),
      " full batches of ",
      hessian_->options().batch_size);
  hessian_->start_epoch(update);
  std::vector<hessian::Batch> batches;
  for (int64_t i = 0; i < config_.hessian_batches; ++i) {
    auto batch = hessian_->next();
    batches.emplace_back(batch->images, batch->labels);
  }
  return batches;
}

} // namespace ewgs::train
