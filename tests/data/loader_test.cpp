// DataLoader: batch order and contents, reproducibility across workers and resumes,
// drop_last, abandoned epochs, bounded prefetch, and errors from worker threads.
#include "ewgs/data/loader.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

#include "data_test_util.h"
#include "ewgs/data/dataset_kinds.h"
#include "ewgs/data/idx.h"
#include "ewgs/data/image_folder.h"
#include "ewgs/data/in_memory_dataset.h"

namespace ewgs::data {
namespace {

using test::DataTest;

/// `n` (<= 256) images of `c`x`h`x`w`; pixel k of image i is (i + 7 k) % 256, label i % 3.
std::shared_ptr<InMemoryDataset> numbered(int64_t n, int64_t c = 1, int64_t h = 2, int64_t w = 2) {
  const at::Tensor base = torch::arange(c * h * w, torch::kLong).view({1, c, h, w});
  const at::Tensor index = torch::arange(n, torch::kLong).view({n, 1, 1, 1});
  const at::Tensor images = ((index + 7 * base) % 256).to(torch::kByte);
  const at::Tensor labels = torch::arange(n, torch::kLong) % 3;
  return std::make_shared<InMemoryDataset>(
      images, labels, std::vector<std::string>{"a", "b", "c"}, "numbered");
}

/// Sample indices of a batch from `numbered` without augmentation (pixel 0 = i).
std::vector<int64_t> indices(const Batch& batch) {
  const at::Tensor first = (batch.images.select(1, 0).select(1, 0).select(1, 0) * 255.0).round();
  std::vector<int64_t> out;
  for (int64_t b = 0; b < first.size(0); ++b) {
    out.push_back(first[b].item<int64_t>());
  }
  return out;
}

LoaderOptions options(int64_t batch, bool shuffle, int64_t workers, uint64_t seed = 0) {
  LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.workers = workers;
  o.seed = seed;
  return o;
}

std::vector<Batch> epoch(DataLoader& loader, int64_t e, int64_t skip = 0) {
  loader.start_epoch(e, skip);
  std::vector<Batch> out;
  while (auto batch = loader.next()) {
    out.push_back(std::move(*batch));
  }
  return out;
}

std::vector<int64_t> epoch_indices(DataLoader& loader, int64_t e) {
  std::vector<int64_t> out;
  for (const Batch& b : epoch(loader, e)) {
    const auto idx = indices(b);
    out.insert(out.end(), idx.begin(), idx.end());
  }
  return out;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index);
    EXPECT_TRUE(ewgs::test::all_equal(a[i].images, b[i].images)) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].labels, b[i].labels)) << "batch " << i;
  }
}

TEST(LoaderTest, SequentialBatchesInOrder) {
  DataLoader loader(numbered(10), {}, options(4, false, 2));
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  EXPECT_EQ(loader.size(), 10);
  EXPECT_EQ(loader.sample_shape(), (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(loader.options().prefetch, 4);
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(indices(batches[0]), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(indices(batches[2]), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(batches[2].index, 2);
  EXPECT_EQ(batches[1].images.sizes(), (std::vector<int64_t>{4, 1, 2, 2}));
  EXPECT_EQ(batches[1].images.scalar_type(), torch::kFloat);
  EXPECT_TRUE(batches[1].images.is_contiguous());
  EXPECT_TRUE(torch::equal(batches[1].labels, torch::tensor({1, 2, 0, 1}, torch::kLong)));
  // Pixel k of sample 5 is (5 + 7 k) / 255.
  EXPECT_NEAR(batches[1].images[1][0][1][1].item<float>(), 26.0f / 255.0f, 1e-7);
  loader.start_epoch(0, 3);
  EXPECT_FALSE(loader.next().has_value());
  EXPECT_FALSE(loader.next().has_value());
}

TEST(LoaderTest, DropLastDropsTheShortBatch) {
  DataLoader loader(numbered(10), {}, [] {
    LoaderOptions o = options(4, true, 1);
    o.drop_last = true;
    return o;
  }());
  EXPECT_EQ(loader.batches_per_epoch(), 2);
  EXPECT_EQ(loader.size(), 8);
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].images.size(0), 4);
  LoaderOptions too_big = options(11, true, 1);
  too_big.drop_last = true;
  EWGS_EXPECT_THROWS_WITH(
      DataLoader(numbered(10), {}, too_big),
      "drop_last with batch_size 11 larger than the 10 samples leaves no batch");
}

TEST(LoaderTest, ShuffleIsAPermutationFixedBySeedAndEpoch) {
  DataLoader loader(numbered(50), {}, options(8, true, 2, 5));
  const auto e0 = epoch_indices(loader, 0);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(50);
  std::iota(all.begin(), all.end(), int64_t{0});
  EXPECT_EQ(sorted, all);
  EXPECT_NE(e0, all);
  EXPECT_EQ(epoch_indices(loader, 0), e0);
  EXPECT_NE(epoch_indices(loader, 1), e0);
  DataLoader same(numbered(50), {}, options(8, true, 0, 5));
  EXPECT_EQ(epoch_indices(same, 0), e0);
  DataLoader other_seed(numbered(50), {}, options(8, true, 2, 6));
  EXPECT_NE(epoch_indices(other_seed, 0), e0);
  EXPECT_EQ(e0, epoch_order(50, true, 5, 0));
}

TEST(LoaderTest, AugmentedBatchesDoNotDependOnWorkers) {
  const auto data = numbered(37, 3, 8, 8);
  TransformOptions t = train_transform("cifar10");
  t.crop_padding = 2;
  DataLoader reference(data, t, options(5, true, 0, 11));
  const auto want = epoch(reference, 3);
  ASSERT_EQ(want.size(), 8u);
  for (const int64_t workers : {1, 2, 3}) {
    for (const int64_t prefetch : {1, 0, 7}) {
      LoaderOptions o = options(5, true, workers, 11);
      o.prefetch = prefetch;
      DataLoader loader(data, t, o);
      expect_same_batches(epoch(loader, 3), want);
    }
  }
  // Augmentation happened: some padding (value -mean/std) appears and epochs differ.
  DataLoader again(data, t, options(5, true, 2, 11));
  const auto other = epoch(again, 4);
  EXPECT_FALSE(torch::equal(other[0].images, want[0].images));
}

TEST(LoaderTest, SkipBatchesResumesWithIdenticalBatches) {
  const auto data = numbered(37, 3, 8, 8);
  DataLoader loader(data, train_transform("cifar10"), options(5, true, 2, 1));
  const auto full = epoch(loader, 2);
  const auto resumed = epoch(loader, 2, 3);
  ASSERT_EQ(resumed.size(), full.size() - 3);
  expect_same_batches(resumed, std::vector<Batch>(full.begin() + 3, full.end()));
  EXPECT_EQ(resumed.front().index, 3);
  DataLoader fresh(data, train_transform("cifar10"), options(5, true, 0, 1));
  expect_same_batches(epoch(fresh, 2, 5), std::vector<Batch>(full.begin() + 5, full.end()));
  EWGS_EXPECT_THROWS_WITH(loader.start_epoch(2, 9), "skip_batches must be in [0, 8], got 9");
  EWGS_EXPECT_THROWS_WITH(loader.start_epoch(-1), "epoch must be >= 0, got -1");
}

TEST(LoaderTest, ShardsSplitEveryBatchInRankOrderWithItsAugmentation) {
  using Range = std::pair<int64_t, int64_t>;
  EXPECT_EQ(shard_range(9, 0, 2), Range(0, 4));
  EXPECT_EQ(shard_range(9, 1, 2), Range(4, 9));
  EXPECT_EQ(shard_range(2, 2, 3), Range(1, 2));
  EXPECT_EQ(shard_range(2, 0, 3), Range(0, 0));
  const auto data = numbered(37, 3, 8, 8);
  TransformOptions t = train_transform("cifar10");
  t.crop_padding = 2;
  DataLoader whole(data, t, options(6, true, 0, 5));
  const auto want = epoch(whole, 1);
  for (const int64_t shards : {2, 3, 6}) {
    std::vector<std::vector<Batch>> parts;
    for (int64_t shard = 0; shard < shards; ++shard) {
      LoaderOptions o = options(6, true, 2, 5);
      o.shard = shard;
      o.shards = shards;
      DataLoader loader(data, t, o);
      EXPECT_EQ(loader.batches_per_epoch(), whole.batches_per_epoch());
      parts.push_back(epoch(loader, 1));
    }
    for (size_t k = 0; k < want.size(); ++k) {
      std::vector<at::Tensor> images;
      std::vector<at::Tensor> labels;
      for (const auto& part : parts) {
        ASSERT_EQ(part.size(), want.size());
        EXPECT_EQ(part[k].global_size, want[k].images.size(0));
        images.push_back(part[k].images);
        labels.push_back(part[k].labels);
      }
      EXPECT_TRUE(ewgs::test::all_equal(torch::cat(images), want[k].images))
          << shards << " shards, batch " << k;
      EXPECT_TRUE(torch::equal(torch::cat(labels), want[k].labels))
          << shards << " shards, batch " << k;
    }
  }
  // The last batch holds one sample: one shard gets it, the others are empty.
  LoaderOptions o = options(6, true, 0, 5);
  o.shard = 0;
  o.shards = 2;
  DataLoader first_half(data, t, o);
  EXPECT_EQ(epoch(first_half, 1).back().images.size(0), 0);
  o.shard = 2;
  EWGS_EXPECT_THROWS_WITH(
      DataLoader(data, t, o), "LoaderOptions: shard must be in [0, shards - 1 = 1], got 2");
  o.shard = 0;
  o.shards = 7;
  EWGS_EXPECT_THROWS_WITH(DataLoader(data, t, o), "batch_size 6 cannot be split into 7 shards");
}

TEST(LoaderTest, AbandonedEpochsAndShutdownDoNotLeakBatches) {
  const auto data = numbered(200, 3, 8, 8);
  DataLoader loader(data, train_transform("cifar10"), options(4, true, 2, 9));
  const auto want = epoch(loader, 1);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  loader.start_epoch(1);  // abandons epoch 0 with batches in flight
  std::vector<Batch> got;
  while (auto b = loader.next()) {
    got.push_back(std::move(*b));
  }
  expect_same_batches(got, want);
  for (int i = 0; i < 5; ++i) {
    DataLoader short_lived(data, train_transform("cifar10"), options(4, true, 2, 9));
    short_lived.start_epoch(0);
    short_lived.next();
  }  // destroyed mid-epoch: workers stop and join
}

TEST(LoaderTest, HeldBatchesAreNeverOverwritten) {
  const auto data = numbered(64);
  DataLoader reference(data, {}, options(4, true, 0, 3));
  const auto want = epoch(reference, 0);
  LoaderOptions o = options(4, true, 2, 3);
  o.prefetch = 1;
  DataLoader loader(data, {}, o);
  const auto held = epoch(loader, 0);  // all 16 held at once
  expect_same_batches(held, want);
  std::set<const void*> storage;
  for (const Batch& b : held) {
    storage.insert(b.images.data_ptr());
  }
  EXPECT_EQ(storage.size(), held.size());
  // Dropped batches are recycled: the next epoch still matches.
  DataLoader recycled(data, {}, o);
  for (int e = 0; e < 3; ++e) {
    recycled.start_epoch(e);
    DataLoader check(data, {}, options(4, true, 0, 3));
    check.start_epoch(e);
    while (auto b = recycled.next()) {
      auto c = check.next();
      ASSERT_TRUE(c.has_value());
      EXPECT_TRUE(ewgs::test::all_equal(b->images, c->images));
    }
  }
}

TEST(LoaderTest, PrefetchIsBounded) {
  /// Counts reads of the wrapped data set.
  class Counting : public InMemoryDataset {
   public:
    explicit Counting(const InMemoryDataset& d)
        : InMemoryDataset(d.images(), d.labels(), d.class_names(), "counting") {}
    void read(int64_t index, Sample& out) const override {
      ++reads;
      InMemoryDataset::read(index, out);
    }
    mutable std::atomic<int64_t> reads{0};
  };
  const auto data = std::make_shared<Counting>(*numbered(100));
  LoaderOptions o = options(1, false, 3);
  o.prefetch = 2;
  DataLoader loader(data, {}, o);
  loader.start_epoch(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(data->reads.load(), 2);
  ASSERT_TRUE(loader.next().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(data->reads.load(), 3);
}

/// Fails to read sample `bad` like an undecodable file, or with a std::exception.
class Failing : public InMemoryDataset {
 public:
  Failing(const InMemoryDataset& d, int64_t bad, bool std_error)
      : InMemoryDataset(d.images(), d.labels(), d.class_names(), "failing"),
        bad_(bad),
        std_error_(std_error) {}
  void read(int64_t index, Sample& out) const override {
    if (index == bad_) {
      if (std_error_) {
        throw std::runtime_error("disk on fire");
      }
      TORCH_CHECK(false, "/fake/file", index, ".jpg: cannot decode JPEG: boom");
    }
    InMemoryDataset::read(index, out);
  }

 private:
  int64_t bad_;
  bool std_error_;
};

TEST(LoaderTest, WorkerErrorsReachTheCaller) {
  for (const int64_t workers : {0, 1, 2}) {
    const auto data = std::make_shared<Failing>(*numbered(12), 6, false);
    DataLoader loader(data, {}, options(4, false, workers));
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
    EWGS_EXPECT_THROWS_WITH(loader.next(), "/fake/file6.jpg: cannot decode JPEG: boom");
    const auto last = loader.next();  // the epoch goes on after the failed batch
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->index, 2);
    loader.start_epoch(0, 1);
    EWGS_EXPECT_THROWS_WITH(loader.next(), "data loader (failing), epoch 0, batch 1: /fake/file6");
  }
  const auto data = std::make_shared<Failing>(*numbered(12), 0, true);
  DataLoader loader(data, {}, options(4, false, 2));
  loader.start_epoch(0);
  EWGS_EXPECT_THROWS_WITH(loader.next(), "batch 0: disk on fire");
}

TEST(LoaderTest, NextNeedsAnEpoch) {
  DataLoader loader(numbered(4), {}, options(2, false, 1));
  EWGS_EXPECT_THROWS_WITH(
      loader.next(), "data loader (numbered): call start_epoch() before next()");
  DataLoader inline_loader(numbered(4), {}, options(2, false, 0));
  EWGS_EXPECT_THROWS_WITH(inline_loader.next(), "call start_epoch() before next()");
  EWGS_EXPECT_THROWS_WITH(DataLoader(nullptr, {}, {}), "the data set is null");
  EWGS_EXPECT_THROWS_WITH(
      DataLoader(numbered(4), {}, options(0, false, 1)), "batch_size must be > 0, got 0");
  EWGS_EXPECT_THROWS_WITH(
      DataLoader(numbered(4), train_transform("cifar10"), options(2, false, 1)),
      "mean/std have 3 values but the images have 1 channels");
}

TEST_F(DataTest, LoaderOnFolderNamesUndecodableAndMisfitFiles) {
  const auto jpeg = test::encode_jpeg(std::vector<uint8_t>(8 * 8 * 3, 100), 8, 8, 3);
  for (int i = 0; i < 6; ++i) {
    test::write_file(dir_ + "/train/a/" + std::to_string(i) + ".jpg", jpeg);
  }
  test::write_file(dir_ + "/train/b/broken.jpg", {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00});
  ImageFolderOptions never;
  never.cache = FolderCache::kNever;
  const auto folder = open_image_folder(dir_, "train", never);
  DataLoader loader(folder, {}, options(3, false, 2));
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  ASSERT_TRUE(loader.next().has_value());
  EWGS_EXPECT_THROWS_WITH(loader.next(), dir_ + "/train/b/broken.jpg: cannot decode JPEG");

  std::filesystem::remove(dir_ + "/train/b/broken.jpg");
  test::write_file(
      dir_ + "/train/b/wide.jpg", test::encode_jpeg(std::vector<uint8_t>(8 * 12 * 3, 9), 8, 12, 3));
  const auto mixed = open_image_folder(dir_, "train");
  EXPECT_EQ(mixed->cache(), nullptr);
  DataLoader plain(mixed, {}, options(7, false, 1));
  plain.start_epoch(0);
  EWGS_EXPECT_THROWS_WITH(
      plain.next(),
      dir_ +
          "/train/b/wide.jpg: image is 3x8x12 (3x8x12 after the transform) but this loader's "
          "batches hold 3x8x8 images");
  TransformOptions crop;
  crop.center_crop = 8;
  DataLoader cropped(mixed, crop, options(7, false, 1));
  const auto batches = epoch(cropped, 0);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].images.sizes(), (std::vector<int64_t>{7, 3, 8, 8}));
  EXPECT_NEAR(batches[0].images[6][0][4][4].item<float>(), 9.0f / 255.0f, 2.0f / 255.0f);
}

TEST(LoaderRealTest, FashionMnistEpoch) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const auto test_set = load_fashion_mnist(root, "test");
  const TransformOptions t = eval_transform("fashion-mnist");
  DataLoader loader(test_set, t, options(256, false, 2));
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 40u);
  EXPECT_EQ(batches.back().images.size(0), 10000 - 39 * 256);
  const at::Tensor all = torch::cat(std::vector<at::Tensor>{batches[0].images, batches[1].images});
  const at::Tensor want = normalize_images(test_set->images().slice(0, 0, 512), t.mean, t.std);
  EXPECT_TRUE(ewgs::test::all_close(all, want, 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(batches[0].labels, test_set->labels().slice(0, 0, 256)));
}

TEST(LoaderRealTest, Cifar10JpegEpoch) {
  const auto test_set = test::real_cifar10_jpeg("test");
  if (!test_set) {
    GTEST_SKIP() << ewgs::test::shared_data_path("cifar10-jpeg.tar.gz")
                 << " is missing (set EWGS_DATA_DIR)";
  }
  const TransformOptions eval = eval_transform("cifar10-jpeg");
  DataLoader loader(test_set, eval, options(500, false, 2));
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 20u);
  const auto& cache = dynamic_cast<const ImageFolderDataset&>(*test_set).cache();
  ASSERT_NE(cache, nullptr);
  const at::Tensor want =
      normalize_images(cache->images().slice(0, 500, 1000), eval.mean, eval.std);
  EXPECT_TRUE(ewgs::test::all_close(batches[1].images, want, 1e-6, 1e-6));
  DataLoader train_loader(test_set, train_transform("cifar10-jpeg"), options(500, true, 2, 4));
  int64_t seen = 0;
  for (const Batch& b : epoch(train_loader, 0)) {
    seen += b.images.size(0);
    EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{500, 3, 32, 32}));
  }
  EXPECT_EQ(seen, 10000);
}

}  // namespace
}  // namespace ewgs::data
