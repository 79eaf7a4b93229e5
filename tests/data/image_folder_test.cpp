// Image folders: class and file order like torchvision, caching decisions, errors that
// name the folder or file, and the real CIFAR-10 JPEG copy against PIL's decode.
#include "ewgs/data/image_folder.h"

#include <filesystem>

#include "data_test_util.h"
#include "ewgs/data/in_memory_dataset.h"

namespace ewgs::data {
namespace {

using test::DataTest;
using test::encode_jpeg;
using test::write_file;
using test::write_png;

/// A solid-colour RGB image of `height` x `width` with value `v` in every channel.
std::vector<uint8_t> solid(int height, int width, uint8_t v) {
  return std::vector<uint8_t>(static_cast<size_t>(height * width * 3), v);
}

void write_jpeg(const std::string& path, int height, int width, uint8_t v) {
  write_file(path, encode_jpeg(solid(height, width, v), height, width, 3));
}

/// train/ with classes "cat" (3 images: b.jpg, a.JPG, sub/c.png) and "ant" (1 image),
/// plus a text file that must be ignored; every image 6x4.
void make_tree(const std::string& root) {
  write_jpeg(root + "/train/cat/b.jpg", 6, 4, 20);
  write_jpeg(root + "/train/cat/a.JPG", 6, 4, 10);
  write_png(root + "/train/cat/sub/c.png", solid(6, 4, 30), 6, 4, 3);
  write_file(root + "/train/cat/notes.txt", {'x'});
  write_jpeg(root + "/train/ant/z.jpeg", 6, 4, 200);
}

TEST_F(DataTest, FolderOrdersClassesAndFilesLikeTorchvision) {
  make_tree(dir_);
  ImageFolderOptions options;
  options.cache = FolderCache::kNever;
  const auto set = open_image_folder(dir_, "train", options);
  ASSERT_EQ(set->size(), 4);
  EXPECT_EQ(set->class_names(), (std::vector<std::string>{"ant", "cat"}));
  EXPECT_EQ(
      set->files(),
      (std::vector<std::string>{
          dir_ + "/train/ant/z.jpeg",
          dir_ + "/train/cat/a.JPG",
          dir_ + "/train/cat/b.jpg",
          dir_ + "/train/cat/sub/c.png"}));
  EXPECT_EQ(set->labels(), (std::vector<int64_t>{0, 1, 1, 1}));
  EXPECT_EQ(set->image_shape(), (std::vector<int64_t>{3, -1, -1}));
  EXPECT_EQ(set->cache(), nullptr);
  const Sample s = set->get(3);
  EXPECT_EQ(s.label, 1);
  EXPECT_EQ(s.image.height, 6);
  EXPECT_EQ(s.image.width, 4);
  EXPECT_EQ(s.image.at(2, 5, 3), 30);
  EXPECT_NEAR(set->get(1).image.at(0, 0, 0), 10, 1);
  EXPECT_EQ(set->describe(2), dir_ + "/train/cat/b.jpg");
}

TEST_F(DataTest, FolderCachesSmallImagesOfOneSize) {
  make_tree(dir_);
  ImageFolderOptions never;
  never.cache = FolderCache::kNever;
  const auto lazy = open_image_folder(dir_, "train", never);
  const auto cached = open_image_folder(dir_, "train");  // kAuto
  ASSERT_NE(cached->cache(), nullptr);
  EXPECT_EQ(cached->image_shape(), (std::vector<int64_t>{3, 6, 4}));
  for (int64_t i = 0; i < 4; ++i) {
    const Sample a = lazy->get(i);
    const Sample b = cached->get(i);
    EXPECT_EQ(a.label, b.label);
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t y = 0; y < 6; ++y) {
        for (int64_t x = 0; x < 4; ++x) {
          ASSERT_EQ(a.image.at(c, y, x), b.image.at(c, y, x)) << i << " " << c << y << x;
        }
      }
    }
  }
  ImageFolderOptions small_limit;
  small_limit.cache_limit_bytes = 4 * 6 * 4 * 3 - 1;
  EXPECT_EQ(open_image_folder(dir_, "train", small_limit)->cache(), nullptr);
}

TEST_F(DataTest, FolderOfMixedSizesIsReadOnDemand) {
  make_tree(dir_);
  write_jpeg(dir_ + "/train/cat/d.jpg", 9, 5, 60);
  const auto set = open_image_folder(dir_, "train");  // kAuto falls back
  EXPECT_EQ(set->cache(), nullptr);
  EXPECT_EQ(set->image_shape(), (std::vector<int64_t>{3, -1, -1}));
  EXPECT_EQ(set->get(3).image.height, 9);  // cat/d.jpg sorts before cat/sub/c.png
  ImageFolderOptions always;
  always.cache = FolderCache::kAlways;
  EWGS_EXPECT_THROWS_WITH(
      open_image_folder(dir_, "train", always),
      dir_ + "/train/cat/d.jpg: image is 9x5 but '" + dir_ + "/train/ant/z.jpeg' is 6x4");
}

TEST_F(DataTest, FolderErrorsNameTheFolder) {
  make_tree(dir_);
  EWGS_EXPECT_THROWS_WITH(
      open_image_folder(dir_, "val"),
      "imagefolder: split folder '" + dir_ + "/val' does not exist; found: train");
  std::filesystem::create_directories(dir_ + "/train/dog");
  write_file(dir_ + "/train/dog/readme.txt", {'x'});
  EWGS_EXPECT_THROWS_WITH(
      open_image_folder(dir_, "train"),
      "imagefolder: class folder '" + dir_ + "/train/dog' has no .jpg, .jpeg or .png images");
  std::filesystem::create_directories(dir_ + "/empty/test");
  EWGS_EXPECT_THROWS_WITH(
      open_image_folder(dir_ + "/empty", "test"),
      "imagefolder: no class folders in '" + dir_ + "/empty/test'");
}

TEST_F(DataTest, FolderUndecodableImageNamesTheFile) {
  make_tree(dir_);
  write_file(dir_ + "/train/cat/broken.jpg", {0xFF, 0xD8, 0xFF, 0xE0, 0x00});
  EWGS_EXPECT_THROWS_WITH(
      open_image_folder(dir_, "train"), dir_ + "/train/cat/broken.jpg: cannot decode JPEG");
  ImageFolderOptions never;
  never.cache = FolderCache::kNever;
  const auto lazy = open_image_folder(dir_, "train", never);
  EWGS_EXPECT_THROWS_WITH(lazy->get(3), dir_ + "/train/cat/broken.jpg: cannot decode JPEG");
}

TEST(ImageFolderRealTest, Cifar10JpegMatchesPil) {
  const auto train = test::real_cifar10_jpeg("train");
  const auto test = test::real_cifar10_jpeg("test");
  if (!train || !test) {
    GTEST_SKIP() << ewgs::test::shared_data_path("cifar10-jpeg.tar.gz")
                 << " is missing (set EWGS_DATA_DIR)";
  }
  ASSERT_EQ(train->size(), 50000);
  ASSERT_EQ(test->size(), 10000);
  EXPECT_EQ(
      train->class_names(),
      (std::vector<std::string>{
          "airplane",
          "automobile",
          "bird",
          "cat",
          "deer",
          "dog",
          "frog",
          "horse",
          "ship",
          "truck"}));
  EXPECT_EQ(train->image_shape(), (std::vector<int64_t>{3, 32, 32}));
  const auto* folder = dynamic_cast<const ImageFolderDataset*>(train.get());
  ASSERT_NE(folder, nullptr);
  ASSERT_NE(folder->cache(), nullptr);
  const at::Tensor counts = at::bincount(folder->cache()->labels());
  EXPECT_TRUE(ewgs::test::all_equal(counts, torch::full({10}, 5000, torch::kLong)));
  const std::string suffix = "/train/airplane/0000.jpg";
  EXPECT_EQ(folder->files()[0].substr(folder->files()[0].size() - suffix.size()), suffix);
  // Reference: PIL 9.4 (libjpeg-turbo) channel sums over the whole split.
  const at::Tensor sums = folder->cache()->images().to(at::kLong).sum({0, 2, 3});
  EXPECT_TRUE(ewgs::test::all_equal(
      sums, torch::tensor(std::vector<int64_t>{6413765015, 6294170581, 5829777341})));
  const Sample first = test->get(0);
  EXPECT_EQ(first.label, 0);
  EXPECT_EQ(first.image.at(0, 0, 0), 141);
  EXPECT_EQ(first.image.at(1, 0, 0), 159);
  EXPECT_EQ(first.image.at(2, 0, 0), 179);
  EXPECT_EQ(first.image.at(1, 31, 31), 72);
  const Sample last = train->get(49999);
  EXPECT_EQ(last.label, 9);
  EXPECT_EQ(last.image.at(2, 3, 7), 237);
}

}  // namespace
}  // namespace ewgs::data
