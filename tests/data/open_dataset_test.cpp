// open_dataset: kinds, default roots, the CIFAR-10 JPEG archive extracted once into a
// cache folder, and errors for unknown kinds, missing roots and bad archives.
#include "ewgs/data/open_dataset.h"

#include <filesystem>

#include "data_test_util.h"
#include "ewgs/data/archive.h"
#include "support/scoped_environment.h"

namespace ewgs::data {
namespace {

using test::DataTest;

/// Writes <dir>/c.tar.gz holding cifar10-jpeg/{train,test}/{cat,dog}/0.jpg.
std::string make_archive(const std::string& dir) {
  const auto jpeg = test::encode_jpeg(std::vector<uint8_t>(4 * 4 * 3, 50), 4, 4, 3);
  std::vector<test::TarMember> members;
  for (const char* split : {"train", "test"}) {
    for (const char* cls : {"cat", "dog"}) {
      members.push_back(
          {std::string("cifar10-jpeg/") + split + "/" + cls + "/0.jpg",
           test::TarMember::Kind::kFile,
           jpeg,
           ""});
    }
  }
  const std::string archive = dir + "/c.tar.gz";
  test::write_tar_gz(archive, members);
  return archive;
}

TEST(OpenDatasetTest, KnowsItsKinds) {
  EXPECT_EQ(
      dataset_kinds(),
      (std::vector<std::string>{
          "fashion-mnist",
          "mnist",
          "cifar10",
          "cifar100",
          "cifar10-jpeg",
          "imagefolder",
          "imagenet"}));
  EXPECT_EQ(default_root("fashion-mnist"), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(default_root("cifar10"), "");
  EWGS_EXPECT_THROWS_WITH(
      open_dataset("cifar", "/x", "train"), "unknown data set 'cifar'; did you mean 'cifar10'?");
  EWGS_EXPECT_THROWS_WITH(
      open_dataset("cifar10", "", "train"),
      "data set 'cifar10' has no default root; set data.root to its folder");
}

TEST(OpenDatasetTest, EveryKindOfTheTableHasUsablePresets) {
  for (const auto& kind : dataset_kinds()) {
    const auto& norm = dataset_kind(kind).normalization;
    const size_t channels = kind == "fashion-mnist" || kind == "mnist" ? 1 : 3;
    EXPECT_EQ(norm.mean.size(), channels) << kind;
    ASSERT_EQ(norm.std.size(), channels) << kind;
    for (const double s : norm.std) {
      EXPECT_GT(s, 0.0) << kind;
    }
    // The presets carry the normalization and make valid transforms.
    EXPECT_EQ(train_transform(kind).mean, norm.mean) << kind;
    EXPECT_EQ(eval_transform(kind).std, norm.std) << kind;
    EXPECT_NO_THROW(Transform{train_transform(kind)}) << kind;
    EXPECT_NO_THROW(Transform{eval_transform(kind)}) << kind;
    EXPECT_TRUE(static_cast<bool>(dataset_kind(kind).open)) << kind;
  }
}

TEST(OpenDatasetTest, FashionMnistFromTheDefaultRoot) {
  if (!std::filesystem::exists(default_root("fashion-mnist"))) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const auto test_set = open_dataset("fashion-mnist", "", "test");
  EXPECT_EQ(test_set->size(), 10000);
  EXPECT_EQ(test_set->image_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(test_set->class_names()[7], "Sneaker");
}

TEST_F(DataTest, Cifar10JpegArchiveIsExtractedOnce) {
  const std::string archive = make_archive(dir_);
  OpenOptions options;
  options.cache_dir = dir_ + "/cache";
  const auto test_set = open_dataset("cifar10-jpeg", archive, "test", options);
  EXPECT_EQ(test_set->size(), 2);
  EXPECT_EQ(test_set->class_names(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_NE(test_set->name().find("cifar10-jpeg ("), std::string::npos);
  const std::string extracted = extract_once(archive, "cifar10-jpeg", dir_ + "/cache");
  EXPECT_TRUE(std::filesystem::is_directory(extracted + "/train/dog"));
  EXPECT_EQ(open_dataset("cifar10-jpeg", archive, "train", options)->size(), 2);
  // The extracted folder works as a root too, and so does a parent holding cifar10-jpeg/.
  EXPECT_EQ(open_dataset("cifar10-jpeg", extracted, "train")->size(), 2);
  std::filesystem::create_directories(dir_ + "/parent");
  std::filesystem::rename(extracted, dir_ + "/parent/cifar10-jpeg");
  EXPECT_EQ(open_dataset("cifar10-jpeg", dir_ + "/parent", "test")->size(), 2);
  EWGS_EXPECT_THROWS_WITH(
      open_dataset("cifar10-jpeg", dir_ + "/parent", "val"),
      "cifar10-jpeg: split folder '" + dir_ +
          "/parent/cifar10-jpeg/val' does not exist; found: "
          "test, train");
}

TEST_F(DataTest, AMissingArchiveIsNeverReplacedByACachedCopy) {
  const std::string archive = make_archive(dir_);
  OpenOptions options;
  options.cache_dir = dir_ + "/cache";
  EXPECT_EQ(open_dataset("cifar10-jpeg", archive, "test", options)->size(), 2);
  std::filesystem::remove(archive);
  EWGS_EXPECT_THROWS_WITH(
      open_dataset("cifar10-jpeg", archive, "test", options), archive + " does not exist");
  EWGS_EXPECT_THROWS_WITH(
      open_dataset("cifar10-jpeg", "/nonexistent.tar.gz", "test", options),
      "/nonexistent.tar.gz does not exist");
}

TEST_F(DataTest, ARootFilledInCodeMayNameTheDataFolder) {
  make_archive(dir_);
  ewgs::test::ScopedEnvironment env("EWGS_DATA_DIR", dir_);
  OpenOptions options;
  options.cache_dir = dir_ + "/cache";
  EXPECT_EQ(open_dataset("cifar10-jpeg", "${EWGS_DATA_DIR}/c.tar.gz", "test", options)->size(), 2);
  EWGS_EXPECT_THROWS_WITH(
      open_dataset("cifar10-jpeg", "${EWGS_DATA_DIR}/d.tar.gz", "test", options),
      dir_ + "/d.tar.gz does not exist; it lies in the data folder ${EWGS_DATA_DIR} = " + dir_);
}

TEST_F(DataTest, ExtractOnceReportsBadArchives) {
  EWGS_EXPECT_THROWS_WITH(
      extract_once(dir_ + "/none.tar.gz", "x", dir_ + "/cache"),
      "archive " + dir_ + "/none.tar.gz does not exist");
  test::write_file(dir_ + "/junk.tar.gz", {'n', 'o', 't', ' ', 't', 'a', 'r'});
  EWGS_EXPECT_THROWS_WITH(
      extract_once(dir_ + "/junk.tar.gz", "x", dir_ + "/cache"),
      "archive '" + dir_ + "/junk.tar.gz'");
  const std::string archive = make_archive(dir_);
  EWGS_EXPECT_THROWS_WITH(
      extract_once(archive, "other", dir_ + "/cache"),
      "archive '" + archive + "' has no top folder 'other'");
  // Nothing half-extracted is left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/cache")) {
    ADD_FAILURE() << "left over: " << entry.path();
  }
}

}  // namespace
}  // namespace ewgs::data
