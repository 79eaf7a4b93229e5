// A multi-threaded batch loader: worker threads read, transform and collate whole
// batches ahead of the trainer, in an order fixed by (seed, epoch) so a resumed run
// sees exactly the batches it would have seen.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ewgs/data/dataset.h"
#include "ewgs/data/transforms.h"

namespace ewgs::data {

/// Number of hardware threads (at least 1).
int64_t hardware_threads();

/// Options of DataLoader.
struct LoaderOptions {
  int64_t batch_size = 128;
  /// Visit samples in a permutation fixed by (seed, epoch); else in index order.
  bool shuffle = true;
  /// Drop the last batch when smaller than batch_size.
  bool drop_last = false;
  /// Seeds the epoch order and every sample's augmentation.
  uint64_t seed = 0;
  /// Worker threads; 0 builds each batch inside next() on the calling thread.
  int64_t workers = hardware_threads();
  /// Batches built ahead of the one next() returns; <= 0: 2 * workers.
  int64_t prefetch = 0;
  /// Data parallelism: the loader yields part `shard` of `shards` of every
  /// batch (shard_range() of the batch_size samples), so the samples of a
  /// global step are the same whatever the number of ranks.
  int64_t shard = 0;
  int64_t shards = 1;
};

/// The positions [first, last) of shard `shard` of `shards` in a batch of
/// `count` samples: consecutive parts whose sizes differ by at most one. A
/// last batch smaller than `shards` leaves some shards empty.
std::pair<int64_t, int64_t> shard_range(int64_t count, int64_t shard, int64_t shards);

/// Checks batch_size, shard and shards of `options`; errors begin with `where`.
void check_loader_options(const LoaderOptions& options, const std::string& where);

/// One batch: images float32 (B,C,H,W) contiguous, labels int64 (B), and the
/// batch's position in its epoch.
struct Batch {
  at::Tensor images;
  at::Tensor labels;
  int64_t index = 0;
  /// Samples of the whole batch over all shards (images.size(0) unsharded).
  int64_t global_size = 0;
};

/// Anything that yields the batches of an epoch in order: the threaded
/// DataLoader, or the DeviceLoader that keeps a data set on the GPU.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// Starts epoch `epoch` at batch `skip_batches`.
  virtual void start_epoch(int64_t epoch, int64_t skip_batches = 0) = 0;
  /// The next batch of the current epoch, or nullopt after its last batch.
  virtual std::optional<Batch> next() = 0;
  /// Batches per epoch.
  virtual int64_t batches_per_epoch() const = 0;
};

/// Loads batches of `dataset` through `transform`.
///
/// Batch k of epoch e holds the samples at positions [k B, (k+1) B) of
/// epoch_order(size, shuffle, seed, e), and sample position p is augmented with
/// CounterRng::for_sample(seed, e, p): batches depend on (seed, e, k) only, not on
/// the number of workers, timing, or where the epoch was started.
///
/// Workers build whole batches into buffers reused once the caller has dropped
/// every reference to them; at most `prefetch` batches are in flight. An error
/// while building a batch (an undecodable file) is thrown from the next() that
/// would return that batch, as c10::Error naming the file; a later next() goes on
/// with the following batch. next() must be called from one thread at a time.
///
/// Example:
///   auto train = open_dataset("fashion-mnist", "", "train");
///   LoaderOptions options;
///   options.batch_size = 256;
///   DataLoader loader(train, train_transform("fashion-mnist"), options);
///   for (int64_t epoch = 0; epoch < 10; ++epoch) {
///     loader.start_epoch(epoch);
///     while (auto batch = loader.next()) { step(batch->images, batch->labels); }
///   }
class DataLoader : public BatchSource {
 public:
  DataLoader(
      std::shared_ptr<const Dataset> dataset,
      TransformOptions transform,
      LoaderOptions options = {});
  /// Stops and joins the workers, abandoning any epoch in progress.
  ~DataLoader() override;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Starts epoch `epoch` at batch `skip_batches` (0 <= skip <= batches_per_epoch()),
  /// abandoning any epoch in progress; workers start prefetching at once.
  void start_epoch(int64_t epoch, int64_t skip_batches = 0) override;

  /// The next batch of the current epoch, or nullopt after its last batch.
  std::optional<Batch> next() override;

  /// Batches per epoch: ceil(size / batch_size), or floor with drop_last.
  int64_t batches_per_epoch() const override;
  /// Samples per epoch: the data set's size, less the dropped tail with drop_last.
  int64_t size() const;
  /// {C, H, W} of every image in a batch.
  std::vector<int64_t> sample_shape() const;
  /// The options in use, with defaults resolved (prefetch).
  const LoaderOptions& options() const;
  const Dataset& dataset() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewgs::data
