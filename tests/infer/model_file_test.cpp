// The .ewgsm container: round trips, and clear errors for every kind of damage a
// file can suffer (flipped bytes, truncation, appended bytes, bad descriptors).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "ewgs/infer/error.h"
#include "ewgs/infer/model.h"
#include "ewgs/infer/model_file.h"

namespace ewgs::infer {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<uint8_t> sample_file() {
  ModelFileWriter w;
  const auto a = w.add_f64({1.5, -2.0, 3.25}, {3});
  const std::vector<uint8_t> codes = {1, 0, 1, 1, 0};
  const auto packed = pack_codes(codes, 1, 1, 5);
  const auto b = w.add_array(ArrayType::kU1, {1, 5}, packed.data(), packed.size());
  return w.finish({{"format", "test"}, {"a", a}, {"b", b}});
}

/// `file` with the 4-byte header field at `at` set to `value` and the header CRC redone.
std::vector<uint8_t> with_header_field(std::vector<uint8_t> file, size_t at, uint32_t value) {
  std::memcpy(file.data() + at, &value, 4);
  const auto crc = ModelFile::header_crc(file.data());
  std::memcpy(file.data() + 60, &crc, 4);
  return file;
}

TEST(InferModelFileTest, RoundTripsDescriptionAndArrays) {
  const auto file = ModelFile::parse(sample_file(), "sample");
  EXPECT_EQ(file.version_major(), kFormatMajor);
  EXPECT_EQ(file.description()["format"], "test");
  const auto* a =
      reinterpret_cast<const double*>(file.array(file.description()["a"], ArrayType::kF64, "a"));
  EXPECT_EQ(a[0], 1.5);
  EXPECT_EQ(a[2], 3.25);
  const auto codes =
      unpack_codes(file.array(file.description()["b"], ArrayType::kU1, "b"), 1, 1, 5);
  EXPECT_EQ(codes, (std::vector<uint8_t>{1, 0, 1, 1, 0}));
}

TEST(InferModelFileTest, EveryFlippedByteIsDetected) {
  const auto good = sample_file();
  for (size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= 0x5a;
    const auto message = error_of([&] { ModelFile::parse(bad, "flipped.ewgsm"); });
    // Header, description (with its padding) and data are all checksummed,
    // and the error names the file.
    ASSERT_NE(message, "") << "flipping byte " << i << " of " << good.size() << " went unnoticed";
    EXPECT_NE(message.find("flipped.ewgsm"), std::string::npos) << message;
  }
}

TEST(InferModelFileTest, TruncatedAndExtendedFilesAreRefused) {
  const auto good = sample_file();
  for (const size_t keep : {size_t{0}, size_t{10}, size_t{63}, size_t{64}, good.size() - 1}) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep));
    EXPECT_FALSE(error_of([&] { ModelFile::parse(cut, "cut"); }).empty()) << keep;
  }
  auto longer = good;
  longer.push_back(0);
  EXPECT_NE(
      error_of([&] { ModelFile::parse(longer, "long"); }).find("extra bytes appended"),
      std::string::npos);
  auto truncated = good;
  truncated.pop_back();
  EXPECT_NE(
      error_of([&] { ModelFile::parse(truncated, "short"); }).find("truncated"), std::string::npos);
}

TEST(InferModelFileTest, OtherFilesAndVersionsAreRefusedByName) {
  EXPECT_NE(
      error_of([] {
        ModelFile::parse(std::vector<uint8_t>(100, 'x'), "junk.bin");
      }).find("not an ewgs model file"),
      std::string::npos);
  // A header of a future major version, with a valid header checksum.
  const auto future = with_header_field(sample_file(), 8, 9);
  EXPECT_NE(
      error_of([&] { ModelFile::parse(future, "future"); }).find("version 9.0 is not supported"),
      std::string::npos);
  EXPECT_NE(
      error_of([] { ModelFile::read("/nonexistent/model.ewgsm"); }).find("does not exist"),
      std::string::npos);
  EXPECT_NE(
      error_of([] { ModelFile::read("/tmp"); }).find("not a regular file"), std::string::npos);
  const auto fifo = (std::filesystem::temp_directory_path() / "ewgs_infer_fifo_test").string();
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // A FIFO must be refused before anything blocks on opening it.
  EXPECT_NE(error_of([&] { ModelFile::read(fifo); }).find("not a regular file"), std::string::npos);
  std::remove(fifo.c_str());
}

TEST(InferModelFileTest, TheDescriptionIsStoredDeflatedAndItsSizeIsChecked) {
  const auto good = sample_file();
  uint64_t stored = 0;
  uint32_t inflated = 0;
  std::memcpy(&stored, good.data() + 16, 8);
  std::memcpy(&inflated, good.data() + 56, 4);
  EXPECT_LT(stored, inflated);
  EXPECT_EQ(ModelFile::parse(good, "sample").description().dump().size(), inflated);
  // A header whose description size is wrong, or absurdly large, is refused before
  // anything that size is allocated.
  EXPECT_NE(
      error_of([&] {
        ModelFile::parse(with_header_field(good, 56, inflated + 1), "bigger");
      }).find("does not inflate to the " + std::to_string(inflated + 1) + " bytes"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] {
        ModelFile::parse(with_header_field(good, 56, 0xffffffffu), "huge");
      }).find("at most 67108864 are allowed"),
      std::string::npos);
}

TEST(InferModelFileTest, ArrayDescriptorsOutsideTheDataAreRefused) {
  ModelFileWriter w;
  auto a = w.add_f64({1.0, 2.0}, {2});
  auto wrong_size = a;
  wrong_size["shape"] = {3};
  auto outside = a;
  outside["offset"] = 4096;
  outside["bytes"] = 16;
  const auto file = ModelFile::parse(w.finish({{"a", a}}), "arrays");
  EXPECT_NE(
      error_of([&] { file.array(wrong_size, ArrayType::kF64, "wrong"); }).find("its shape needs"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] {
        file.array(outside, ArrayType::kF64, "outside");
      }).find("outside the data section"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] {
        file.array(a, ArrayType::kF32, "typed");
      }).find("stored as f64, expected f32"),
      std::string::npos);
}

TEST(InferModelFileTest, PackingRoundTripsEveryWidthAndOddLengths) {
  std::mt19937 rng(3);
  for (int bits = 1; bits <= 4; ++bits) {
    for (const int64_t length : {1, 3, 7, 8, 9, 63, 65}) {
      std::uniform_int_distribution<int> code(0, (1 << bits) - 1);
      std::vector<uint8_t> codes(static_cast<size_t>(3 * length));
      for (auto& c : codes) {
        c = static_cast<uint8_t>(code(rng));
      }
      const auto packed = pack_codes(codes, bits, 3, length);
      EXPECT_EQ(packed.size(), static_cast<size_t>(3 * ((length * bits + 7) / 8)));
      EXPECT_EQ(unpack_codes(packed.data(), bits, 3, length), codes)
          << bits << " bits, length " << length;
      // Padding bits of each row are zero.
      const int64_t row_bytes = (length * bits + 7) / 8;
      const int spare = static_cast<int>(row_bytes * 8 - length * bits);
      if (spare > 0) {
        for (int64_t r = 0; r < 3; ++r) {
          EXPECT_EQ(packed[static_cast<size_t>((r + 1) * row_bytes - 1)] >> (8 - spare), 0);
        }
      }
    }
  }
  EXPECT_FALSE(error_of([] { pack_codes({4}, 2, 1, 1); }).empty());
}

}  // namespace
}  // namespace ewgs::infer
