// Batch sources of a run (include/ewgs/train/data_pipeline.h).
#include "ewgs/train/data_pipeline.h"

#include <c10/util/Exception.h>

#include <algorithm>

#include "ewgs/data/class_names.h"
#include "ewgs/data/device_loader.h"
#include "ewgs/data/in_memory_dataset.h"
#include "ewgs/data/open_dataset.h"
#include "ewgs/data/transforms.h"

namespace ewgs::train {
namespace {

/// Seeds of the Hessian batches differ from the training order's.
constexpr uint64_t kHessianSeedOffset = 0x9e3779b97f4a7c15ULL;

int64_t workers(const TrainConfig& config, const DataShard& shard) {
  return config.data_workers > 0
             ? config.data_workers
             : std::max<int64_t>(1, data::hardware_threads() / shard.local_processes);
}

data::TransformOptions train_transform(const TrainConfig& config) {
  return config.data_augment ? data::train_transform(config.data_dataset)
                             : data::eval_transform(config.data_dataset);
}

}  // namespace

DataPipeline::DataPipeline(const TrainConfig& config, bool with_train, DataShard shard)
    : config_(config),
      shard_(shard),
      device_(
          config.run_device == "cuda"
              ? c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(shard.cuda_index))
              : c10::Device(c10::kCPU)) {
  const auto& kind = config.data_dataset;
  const auto& mode = config.data_device_resident;
  resident_ = mode == "on" || (mode == "auto" && device_.is_cuda());
  auto test_set = data::open_dataset(kind, config.data_root, config.data_test_split);
  class_names_ = test_set->class_names();
  channels_ = test_set->image_shape()[0];
  if (resident_ && mode == "auto") {
    // Fall back to host loaders where the device path cannot follow.
    resident_ = test_set->fixed_image_size() &&
                data::device_transform_supported(data::eval_transform(kind)) &&
                data::device_transform_supported(train_transform(config));
  }
  data::LoaderOptions test_options;
  test_options.batch_size = config.train_batch_size;
  test_options.shuffle = false;
  test_options.workers = workers(config, shard_);
  test_options.shard = shard_.rank;
  test_options.shards = shard_.ranks;
  test_ = make_source(test_set, data::eval_transform(kind), test_options);
  if (!with_train) {
    return;
  }
  train_set_ = data::open_dataset(kind, config.data_root, config.data_train_split);
  data::check_same_classes(
      train_set_->class_names(),
      "the training split '" + config.data_train_split + "'",
      class_names_,
      "the test split '" + config.data_test_split + "'");
  train_ = make_source(train_set_, train_transform(config), train_options());
}

data::LoaderOptions DataPipeline::train_options() const {
  data::LoaderOptions options;
  options.batch_size = config_.train_batch_size;
  options.shuffle = true;
  options.seed = static_cast<uint64_t>(config_.run_seed);
  options.workers = workers(config_, shard_);
  options.shard = shard_.rank;
  options.shards = shard_.ranks;
  // A last batch too small to give every rank a sample is left out.
  const int64_t tail = train_set_->size() % config_.train_batch_size;
  options.drop_last = tail > 0 && tail < shard_.ranks;
  return options;
}

data::Batch DataPipeline::whole_train_batch(int64_t epoch, int64_t batch) {
  auto options = train_options();
  options.shard = 0;
  options.shards = 1;
  options.prefetch = 1;
  auto source = make_source(train_set_, train_transform(config_), options);
  source->start_epoch(epoch, batch);
  auto whole = source->next();
  TORCH_CHECK(whole.has_value(), "epoch ", epoch, " of the training split has no batch ", batch);
  return std::move(*whole);
}

std::unique_ptr<data::BatchSource> DataPipeline::make_source(
    const std::shared_ptr<data::Dataset>& set,
    const data::TransformOptions& transform,
    const data::LoaderOptions& options) const {
  if (!resident_) {
    return std::make_unique<data::DataLoader>(set, transform, options);
  }
  TORCH_CHECK(
      set->fixed_image_size(),
      "data.device_resident = \"on\" needs images of one size; ",
      set->name(),
      " has images of varying size");
  auto in_memory = std::dynamic_pointer_cast<data::InMemoryDataset>(set);
  if (!in_memory) {
    in_memory = data::load_in_memory(*set, workers(config_, shard_));
  }
  return std::make_unique<data::DeviceLoader>(*in_memory, transform, options, device_);
}

std::vector<hessian::Batch> DataPipeline::hessian_batches(int64_t update) {
  TORCH_CHECK(train_set_, "hessian batches need the training split");
  data::LoaderOptions options;
  options.batch_size =
      config_.hessian_batch_size > 0 ? config_.hessian_batch_size : config_.train_batch_size;
  options.shuffle = true;
  options.drop_last = true;
  options.seed = static_cast<uint64_t>(config_.run_seed) ^ kHessianSeedOffset;
  options.workers = workers(config_, shard_);
  options.prefetch = config_.hessian_batches;
  if (!hessian_) {
    hessian_ = make_source(train_set_, train_transform(config_), options);
  }
  TORCH_CHECK(
      hessian_->batches_per_epoch() >= config_.hessian_batches,
      "hessian.batches = ",
      config_.hessian_batches,
      " but the training split has only ",
      hessian_->batches_per_epoch(),
      " full batches of ",
      options.batch_size);
  hessian_->start_epoch(update);
  std::vector<hessian::Batch> batches;
  for (int64_t i = 0; i < config_.hessian_batches; ++i) {
    auto batch = hessian_->next();
    batches.emplace_back(batch->images, batch->labels);
  }
  return batches;
}

}  // namespace ewgs::train
