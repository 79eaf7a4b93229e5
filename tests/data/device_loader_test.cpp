// DeviceLoader gives exactly the batches of the threaded DataLoader (here both on
// the CPU; on a GPU the same ops run there), and rejects transforms it cannot do.
#include "ewgs/data/device_loader.h"

#include <torch/torch.h>

#include "ewgs/data/dataset_kinds.h"
#include "ewgs/data/transforms.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

std::shared_ptr<data::InMemoryDataset> synthetic(int64_t n, int64_t channels, int64_t size) {
  torch::manual_seed(2);
  auto images = torch::randint(0, 256, {n, channels, size, size}, torch::kLong).to(torch::kByte);
  auto labels = torch::randint(0, 10, {n}, torch::kLong);
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) {
    names.push_back("c" + std::to_string(i));
  }
  return std::make_shared<data::InMemoryDataset>(images, labels, names, "synthetic");
}

void expect_same_batches(data::BatchSource& a, data::BatchSource& b, int64_t epoch, int64_t skip) {
  a.start_epoch(epoch, skip);
  b.start_epoch(epoch, skip);
  int64_t batches = 0;
  while (true) {
    auto x = a.next();
    auto y = b.next();
    ASSERT_EQ(x.has_value(), y.has_value());
    if (!x) {
      break;
    }
    EXPECT_EQ(x->index, y->index);
    EXPECT_EQ(x->global_size, y->global_size);
    EXPECT_TRUE(all_equal(x->images, y->images)) << "epoch " << epoch << " batch " << x->index;
    EXPECT_TRUE(all_equal(x->labels, y->labels));
    ++batches;
  }
  EXPECT_EQ(batches, a.batches_per_epoch() - skip);
}

TEST(DeviceLoaderTest, MatchesTheThreadedLoaderWithCropPaddingFlipAndNormalization) {
  auto set = synthetic(203, 3, 32);
  data::LoaderOptions options;
  options.batch_size = 32;
  options.seed = 11;
  options.workers = 2;
  const auto transform = data::train_transform("cifar10");
  data::DataLoader threaded(set, transform, options);
  data::DeviceLoader resident(*set, transform, options, torch::kCPU);
  EXPECT_EQ(resident.batches_per_epoch(), 7);
  for (int64_t epoch : {0, 1, 5}) {
    expect_same_batches(threaded, resident, epoch, 0);
  }
  expect_same_batches(threaded, resident, 3, 4);  // resume mid-epoch
}

TEST(DeviceLoaderTest, ShardsMatchTheThreadedLoadersShards) {
  auto set = synthetic(203, 3, 32);
  data::LoaderOptions options;
  options.batch_size = 32;
  options.seed = 11;
  options.workers = 2;
  options.shards = 3;
  const auto transform = data::train_transform("cifar10");
  for (int64_t shard : {0, 2}) {
    options.shard = shard;
    data::DataLoader threaded(set, transform, options);
    data::DeviceLoader resident(*set, transform, options, torch::kCPU);
    expect_same_batches(threaded, resident, 1, 0);
  }
}

TEST(DeviceLoaderTest, MatchesWithoutAugmentationDropLastAndOneChannel) {
  auto set = synthetic(100, 1, 28);
  data::LoaderOptions options;
  options.batch_size = 16;
  options.shuffle = false;
  options.drop_last = true;
  options.workers = 0;
  const auto transform = data::eval_transform("fashion-mnist");
  data::DataLoader threaded(set, transform, options);
  data::DeviceLoader resident(*set, transform, options, torch::kCPU);
  EXPECT_EQ(resident.batches_per_epoch(), 6);
  expect_same_batches(threaded, resident, 0, 0);
}

TEST(DeviceLoaderTest, RejectsResizingTransformsAndUnstartedEpochs) {
  auto set = synthetic(10, 3, 32);
  EWGS_EXPECT_THROWS_WITH(
      data::DeviceLoader(*set, data::eval_transform("imagefolder"), {}, torch::kCPU),
      "needs a transform of crop/pad, flip and normalization only");
  data::DeviceLoader loader(*set, data::eval_transform("cifar10"), {}, torch::kCPU);
  EWGS_EXPECT_THROWS_WITH(loader.next(), "call start_epoch() before next()");
  EWGS_EXPECT_THROWS_WITH(loader.start_epoch(0, 5), "skip_batches must be in [0, 1], got 5");
}

TEST(DeviceLoaderTest, MatchesTheThreadedLoader_CUDA) {
  auto set = synthetic(300, 3, 32);
  data::LoaderOptions options;
  options.batch_size = 64;
  options.seed = 3;
  const auto transform = data::train_transform("cifar10");
  data::DataLoader threaded(set, transform, options);
  data::DeviceLoader resident(*set, transform, options, torch::kCUDA);
  threaded.start_epoch(2);
  resident.start_epoch(2);
  while (auto x = threaded.next()) {
    auto y = resident.next();
    ASSERT_TRUE(y.has_value());
    EXPECT_TRUE(all_equal(x->images, y->images.cpu()));
    EXPECT_TRUE(all_equal(x->labels, y->labels.cpu()));
  }
}

}  // namespace
}  // namespace ewgs::test
