// CIFAR-10/100 binary readers on synthetic record files: layout, labels, class-name
// files, nested folders and every malformed-file error.
#include "ewgs/data/cifar_binary.h"

#include <algorithm>
#include <filesystem>

#include "data_test_util.h"

namespace ewgs::data {
namespace {

using test::DataTest;
using test::write_file;

/// `count` records with label bytes `labels(i)` and pixel k of record i = (i + k) % 251.
std::vector<uint8_t> records(int count, const std::vector<std::vector<uint8_t>>& labels) {
  std::vector<uint8_t> out;
  for (int i = 0; i < count; ++i) {
    out.insert(
        out.end(), labels[static_cast<size_t>(i)].begin(), labels[static_cast<size_t>(i)].end());
    for (int k = 0; k < 3072; ++k) {
      out.push_back(static_cast<uint8_t>((i + k) % 251));
    }
  }
  return out;
}

/// Writes data_batch_1..5.bin with two records each (labels 0..9) and a test batch.
void write_cifar10(const std::string& dir) {
  for (int b = 1; b <= 5; ++b) {
    const auto l0 = static_cast<uint8_t>(2 * (b - 1));
    write_file(
        dir + "/data_batch_" + std::to_string(b) + ".bin",
        records(2, {{l0}, {static_cast<uint8_t>(l0 + 1)}}));
  }
  write_file(dir + "/test_batch.bin", records(3, {{3}, {1}, {4}}));
}

TEST_F(DataTest, Cifar10ReadsRecordsInFileOrder) {
  write_cifar10(dir_);
  const auto train = load_cifar10_binary(dir_, "train");
  ASSERT_EQ(train->size(), 10);
  EXPECT_EQ(train->image_shape(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(train->class_names(), cifar10_class_names());
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(train->get(i).label, i);
  }
  // Record 1 of data_batch_3.bin is sample 5; its bytes are CHW: (1 + k) % 251.
  const Sample s = train->get(5);
  EXPECT_EQ(s.image.at(0, 0, 0), 1);
  EXPECT_EQ(s.image.at(0, 0, 5), 6);
  EXPECT_EQ(s.image.at(1, 0, 0), (1 + 1024) % 251);
  EXPECT_EQ(s.image.at(2, 31, 31), (1 + 3071) % 251);
  const auto test = load_cifar10_binary(dir_, "test");
  ASSERT_EQ(test->size(), 3);
  EXPECT_EQ(test->get(2).label, 4);
}

TEST_F(DataTest, Cifar10FindsNestedFolderAndMetaNames) {
  write_cifar10(dir_ + "/cifar-10-batches-bin");
  std::vector<uint8_t> meta;
  for (const char* name : {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}) {
    meta.insert(meta.end(), name, name + 1);
    meta.push_back('\n');
  }
  meta.push_back('\n');
  write_file(dir_ + "/cifar-10-batches-bin/batches.meta.txt", meta);
  const auto test = load_cifar10_binary(dir_, "test");
  EXPECT_EQ(test->size(), 3);
  EXPECT_EQ(test->class_names().front(), "a");
  EXPECT_EQ(test->class_names().back(), "j");
}

TEST_F(DataTest, Cifar10RejectsWrongNumberOfMetaNames) {
  write_cifar10(dir_);
  write_file(dir_ + "/batches.meta.txt", {'a', '\n', 'b', '\n'});
  EWGS_EXPECT_THROWS_WITH(
      load_cifar10_binary(dir_, "test"),
      "batches.meta.txt: expected 10 class names (one a line), got 2");
}

TEST_F(DataTest, Cifar10MissingFileNamesIt) {
  write_cifar10(dir_);
  std::filesystem::remove(dir_ + "/data_batch_4.bin");
  EWGS_EXPECT_THROWS_WITH(
      load_cifar10_binary(dir_, "train"), "cifar10: missing file '" + dir_ + "/data_batch_4.bin'");
  EWGS_EXPECT_THROWS_WITH(
      load_cifar10_binary(dir_ + "/nowhere", "test"),
      "cifar10: missing file '" + dir_ + "/nowhere/test_batch.bin' (also tried '");
}

TEST_F(DataTest, Cifar10RejectsTruncatedRecord) {
  write_cifar10(dir_);
  std::vector<uint8_t> bytes = records(2, {{1}, {2}});
  bytes.resize(bytes.size() - 100);
  write_file(dir_ + "/test_batch.bin", bytes);
  EWGS_EXPECT_THROWS_WITH(
      load_cifar10_binary(dir_, "test"),
      "test_batch.bin: truncated record: file size 6046 is not a multiple of the 3073-byte "
      "record size (1 records and 2973 extra bytes)");
  write_file(dir_ + "/test_batch.bin", {});
  EWGS_EXPECT_THROWS_WITH(load_cifar10_binary(dir_, "test"), "test_batch.bin: empty file");
}

TEST_F(DataTest, Cifar10RejectsLabelOutOfRange) {
  write_cifar10(dir_);
  write_file(dir_ + "/test_batch.bin", records(2, {{1}, {10}}));
  EWGS_EXPECT_THROWS_WITH(
      load_cifar10_binary(dir_, "test"),
      "test_batch.bin: label 10 of record 1 is out of range [0, 10)");
}

TEST_F(DataTest, Cifar100UsesFineLabels) {
  write_file(dir_ + "/train.bin", records(3, {{0, 99}, {19, 5}, {3, 42}}));
  const auto train = load_cifar100_binary(dir_, "train");
  ASSERT_EQ(train->size(), 3);
  EXPECT_EQ(train->num_classes(), 100);
  EXPECT_EQ(train->get(0).label, 99);
  EXPECT_EQ(train->get(1).label, 5);
  EXPECT_EQ(train->get(2).label, 42);
  EXPECT_EQ(train->get(2).image.at(0, 0, 0), 2);
  EXPECT_EQ(train->class_names()[99], "worm");
  EXPECT_EQ(train->class_names()[0], "apple");
}

TEST_F(DataTest, Cifar100RejectsBadRecords) {
  write_file(dir_ + "/test.bin", records(1, {{0, 100}}));
  EWGS_EXPECT_THROWS_WITH(
      load_cifar100_binary(dir_, "test"),
      "test.bin: label 100 of record 0 is out of range [0, 100)");
  std::vector<uint8_t> bytes = records(1, {{0, 1}});
  bytes.pop_back();
  write_file(dir_ + "/test.bin", bytes);
  EWGS_EXPECT_THROWS_WITH(
      load_cifar100_binary(dir_, "test"), "not a multiple of the 3074-byte record size");
  EWGS_EXPECT_THROWS_WITH(
      load_cifar100_binary(dir_, "val"), "cifar100: split must be 'train' or 'test', got 'val'");
}

TEST(CifarNamesTest, HundredDistinctSortedFineNames) {
  const auto& names = cifar100_class_names();
  ASSERT_EQ(names.size(), 100u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_TRUE(std::adjacent_find(names.begin(), names.end()) == names.end());
}

}  // namespace
}  // namespace ewgs::data
