// Shared by the fuzz targets that read files: a scratch folder per process (in
// /dev/shm when there is one), helpers to fill it from the fuzzer's input, and a
// check of every sample the data set then yields.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "ewgs/data/dataset.h"

namespace ewgs::fuzz {

/// Reads every sample of `set`; a label outside [0, num_classes) is a bug.
inline void read_every_sample(const data::Dataset& set) {
  data::Sample sample;
  for (int64_t i = 0; i < set.size(); ++i) {
    set.read(i, sample);
    if (sample.label < 0 || sample.label >= set.num_classes()) {
      __builtin_trap();
    }
  }
}

/// An empty scratch folder, the same one on every call within a process.
inline std::string scratch_folder() {
  static const std::string base = [] {
    const std::filesystem::path shm("/dev/shm");
    const auto root =
        std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
    return (root / ("ewgs-fuzz-" + std::to_string(::getpid()))).string();
  }();
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  return base;
}

/// Writes `size` bytes at `data` to `path`.
inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

/// Reads the input as consecutive parts: a little-endian uint16 length, then
/// that many bytes (cut at the end of the input).
class Parts {
 public:
  Parts(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::string next() {
    if (at_ + 2 > size_) {
      at_ = size_;
      return "";
    }
    const size_t length = data_[at_] | (size_t{data_[at_ + 1]} << 8);
    at_ += 2;
    const size_t take = length < size_ - at_ ? length : size_ - at_;
    std::string out(reinterpret_cast<const char*>(data_ + at_), take);
    at_ += take;
    return out;
  }
  /// Everything not read yet.
  std::string rest() {
    std::string out(reinterpret_cast<const char*>(data_ + at_), size_ - at_);
    at_ = size_;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace ewgs::fuzz
