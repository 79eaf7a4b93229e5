// IDX reader: synthetic plain and gzipped files, every malformed-file error, and the
// real Fashion-MNIST from Debian's dataset-fashion-mnist package.
#include "ewgs/data/idx.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "data_test_util.h"

namespace ewgs::data {
namespace {

using test::DataTest;
using test::idx_bytes;
using test::write_file;
using test::write_gzip_file;

/// 3 images of 2x3 pixels (pixel value 10 * image + position) and labels 7, 0, 9.
struct TinySet {
  std::vector<uint8_t> images = idx_bytes({3, 2, 3}, pixels());
  std::vector<uint8_t> labels = idx_bytes({3}, {7, 0, 9});

  static std::vector<uint8_t> pixels() {
    std::vector<uint8_t> p;
    for (int i = 0; i < 3; ++i) {
      for (int k = 0; k < 6; ++k) {
        p.push_back(static_cast<uint8_t>(10 * i + k));
      }
    }
    return p;
  }
};

void expect_tiny_set(const InMemoryDataset& set) {
  EXPECT_EQ(set.size(), 3);
  EXPECT_EQ(set.num_classes(), 10);
  EXPECT_EQ(set.image_shape(), (std::vector<int64_t>{1, 2, 3}));
  const Sample s = set.get(2);
  EXPECT_EQ(s.label, 9);
  EXPECT_EQ(s.image.at(0, 0, 0), 20);
  EXPECT_EQ(s.image.at(0, 1, 2), 25);
  EXPECT_EQ(set.labels()[1].item<int64_t>(), 0);
  EXPECT_EQ(set.images()[1][0][1][0].item<int64_t>(), 13);
}

TEST_F(DataTest, IdxReadsPlainFiles) {
  const TinySet tiny;
  write_file(path("train-images-idx3-ubyte"), tiny.images);
  write_file(path("train-labels-idx1-ubyte"), tiny.labels);
  const auto set = load_mnist(dir_, "train");
  expect_tiny_set(*set);
  EXPECT_EQ(set->class_names()[9], "9");
  EXPECT_NE(set->name().find("mnist train"), std::string::npos);
}

TEST_F(DataTest, IdxReadsGzippedFiles) {
  const TinySet tiny;
  write_gzip_file(path("t10k-images-idx3-ubyte.gz"), tiny.images);
  write_gzip_file(path("t10k-labels-idx1-ubyte.gz"), tiny.labels);
  const auto set = load_fashion_mnist(dir_, "test");
  expect_tiny_set(*set);
  EXPECT_EQ(set->class_names()[0], "T-shirt/top");
  EXPECT_EQ(set->class_names()[9], "Ankle boot");
}

TEST_F(DataTest, IdxMissingFileNamesIt) {
  const TinySet tiny;
  write_file(path("train-images-idx3-ubyte"), tiny.images);
  EWGS_EXPECT_THROWS_WITH(
      load_mnist(dir_, "train"),
      "mnist: missing file '" + dir_ + "/train-labels-idx1-ubyte' (also tried");
}

TEST_F(DataTest, IdxRejectsUnknownSplit) {
  EWGS_EXPECT_THROWS_WITH(
      load_fashion_mnist(dir_, "val"), "fashion-mnist: split must be 'train' or 'test', got 'val'");
}

TEST_F(DataTest, IdxRejectsWrongMagic) {
  const TinySet tiny;
  write_file(path("train-images-idx3-ubyte"), tiny.labels);  // a labels file (0x0801)
  write_file(path("train-labels-idx1-ubyte"), tiny.labels);
  EWGS_EXPECT_THROWS_WITH(
      load_mnist(dir_, "train"),
      "train-images-idx3-ubyte: wrong IDX magic number 0x00000801, expected 0x00000803");
}

TEST_F(DataTest, IdxRejectsTruncatedAndOverlongData) {
  TinySet tiny;
  tiny.images.pop_back();
  write_file(path("train-images-idx3-ubyte"), tiny.images);
  write_file(path("train-labels-idx1-ubyte"), tiny.labels);
  EWGS_EXPECT_THROWS_WITH(
      load_mnist(dir_, "train"),
      "train-images-idx3-ubyte: truncated: header says 3x2x3 = 18 bytes of data, file has 17");
  tiny.labels.push_back(1);
  write_file(path("train-labels-idx1-ubyte"), tiny.labels);
  EWGS_EXPECT_THROWS_WITH(
      read_idx_file(path("train-labels-idx1-ubyte"), 1),
      "trailing data: header says 3 = 3 bytes of data, file has 4");
}

TEST(IdxParseTest, DimensionsWhoseProductOverflowsAreRejected) {
  // 2^31 * 2^31 * 4 = 2^64 wraps to 0: an empty payload must not pass for it.
  EWGS_EXPECT_THROWS_WITH(
      parse_idx(test::idx_bytes({1u << 31, 1u << 31, 4}, {}), "huge", 3),
      "huge: IDX header says 2147483648x2147483648x4, more bytes than any file can hold");
}

TEST_F(DataTest, IdxRejectsCountMismatch) {
  const TinySet tiny;
  write_file(path("train-images-idx3-ubyte"), tiny.images);
  write_file(path("train-labels-idx1-ubyte"), idx_bytes({2}, {1, 2}));
  EWGS_EXPECT_THROWS_WITH(load_mnist(dir_, "train"), "has 3 images but '");
  EWGS_EXPECT_THROWS_WITH(load_mnist(dir_, "train"), "train-labels-idx1-ubyte' has 2 labels");
}

TEST_F(DataTest, IdxRejectsLabelOutOfRange) {
  const TinySet tiny;
  write_file(path("train-images-idx3-ubyte"), tiny.images);
  write_file(path("train-labels-idx1-ubyte"), idx_bytes({3}, {1, 10, 2}));
  EWGS_EXPECT_THROWS_WITH(
      load_mnist(dir_, "train"),
      "train-labels-idx1-ubyte: label 10 of sample 1 is out of range [0, 10)");
}

TEST_F(DataTest, IdxRejectsCorruptGzip) {
  const TinySet tiny;
  write_gzip_file(path("train-images-idx3-ubyte.gz"), tiny.images);
  // Keep the gzip header, cut the deflate stream short.
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(path("train-images-idx3-ubyte.gz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes.resize(bytes.size() / 2);
  write_file(path("train-images-idx3-ubyte.gz"), bytes);
  write_file(path("train-labels-idx1-ubyte"), tiny.labels);
  EWGS_EXPECT_THROWS_WITH(load_mnist(dir_, "train"), "cannot decompress '" + dir_);
}

TEST(IdxRealTest, FashionMnistFromDebianPackage) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  // Reference values read with numpy from the same files.
  const auto train = load_fashion_mnist(root, "train");
  ASSERT_EQ(train->size(), 60000);
  EXPECT_EQ(train->image_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_TRUE(ewgs::test::all_equal(
      train->labels().slice(0, 0, 12),
      torch::tensor({9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9}, torch::kLong)));
  EXPECT_EQ(train->images()[0].sum().item<int64_t>(), 76247);
  EXPECT_EQ(train->images()[59999].sum().item<int64_t>(), 16684);
  EXPECT_TRUE(ewgs::test::all_equal(
      train->images()[0][0][14].to(torch::kLong),
      torch::tensor(
          {0,   0,   1,   4,   6,   7,   2,   0,   0,   0,   0,   0,   237, 226,
           217, 223, 222, 219, 222, 221, 216, 223, 229, 215, 218, 255, 77,  0},
          torch::kLong)));
  const double mean = train->images().to(torch::kDouble).mean().item<double>() / 255.0;
  EXPECT_NEAR(mean, 0.2860406, 1e-6);

  const auto test = load_fashion_mnist(root, "test");
  ASSERT_EQ(test->size(), 10000);
  EXPECT_TRUE(ewgs::test::all_equal(
      test->labels().slice(0, 0, 12),
      torch::tensor({9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5}, torch::kLong)));
  EXPECT_EQ(test->images()[0].sum().item<int64_t>(), 33456);
  EXPECT_EQ(test->images()[9999].sum().item<int64_t>(), 24390);
}

}  // namespace
}  // namespace ewgs::data
