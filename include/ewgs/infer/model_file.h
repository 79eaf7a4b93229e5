// The container of packed model files (.ewgsm): a fixed header, a JSON description
// of the graph and a 64-byte-aligned data section of arrays, both CRC-32 checked.
// docs/MODEL_FORMAT.md specifies it byte by byte.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ewgs::infer {

/// Format version written by this build; files of another major version are refused.
constexpr uint32_t kFormatMajor = 2;
constexpr uint32_t kFormatMinor = 0;
/// Size of the fixed header and alignment of every array in the data section.
constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kArrayAlignment = 64;

/// Element types of arrays, little-endian. Packed codes ("u1" to "u4") hold one b-bit
/// unsigned code per element, least significant bits first, each row (the
/// array's first dimension) starting on a byte boundary.
enum class ArrayType { kF64, kF32, kI32, kU8, kU1, kU2, kU3, kU4 };

/// "f64", "f32", ... as stored in the JSON.
const char* to_string(ArrayType type);
ArrayType array_type_from_string(const std::string& name);
/// Bits per element.
int array_type_bits(ArrayType type);
/// Bytes an array of `shape` takes (packed rows rounded up to whole bytes).
uint64_t array_bytes(ArrayType type, const std::vector<int64_t>& shape);

/// The array type that stores codes of `bits` bits (1..4).
ArrayType packed_code_type(int bits);

/// Packs `rows` x `row_length` codes (each < 2^bits) into rows of
/// ceil(row_length bits / 8) bytes, least significant bits first.
std::vector<uint8_t> pack_codes(
    const std::vector<uint8_t>& codes, int bits, int64_t rows, int64_t row_length);

/// The inverse of pack_codes.
std::vector<uint8_t> unpack_codes(
    const uint8_t* packed, int bits, int64_t rows, int64_t row_length);

/// Builds a model file: arrays are appended to the data section and referred
/// to from the JSON by the descriptor add_array() returns.
class ModelFileWriter {
 public:
  /// Appends `bytes` (exactly array_bytes(type, shape) of them) and returns
  /// {"type", "shape", "offset", "bytes"} for the JSON.
  nlohmann::json add_array(
      ArrayType type, const std::vector<int64_t>& shape, const void* bytes, uint64_t size);
  nlohmann::json add_f64(const std::vector<double>& values, const std::vector<int64_t>& shape);
  nlohmann::json add_f32(const std::vector<float>& values, const std::vector<int64_t>& shape);

  /// The whole file for `description` and the arrays added so far.
  std::vector<uint8_t> finish(const nlohmann::json& description) const;
  /// Writes finish() to `path` through a temporary file and a rename.
  void write(const std::string& path, const nlohmann::json& description) const;

 private:
  std::vector<uint8_t> data_;
};

/// A model file read into memory and checked: header, sizes, version and both
/// checksums. Errors name `source` and what is wrong.
class ModelFile {
 public:
  static ModelFile read(const std::string& path);
  static ModelFile parse(std::vector<uint8_t> bytes, const std::string& source);

  const nlohmann::json& description() const { return description_; }
  const std::string& source() const { return source_; }
  uint32_t version_major() const { return major_; }
  uint32_t version_minor() const { return minor_; }
  uint64_t size_bytes() const { return bytes_.size(); }

  /// The bytes of the array `descriptor` refers to, after checking its type
  /// and that it lies inside the data section. `what` names it in errors.
  const uint8_t* array(
      const nlohmann::json& descriptor, ArrayType type, const std::string& what) const;
  /// CRC-32 of the first 60 header bytes, stored in the last 4.
  static uint32_t header_crc(const uint8_t* header);

  /// Shape stored in an array descriptor.
  static std::vector<int64_t> array_shape(
      const nlohmann::json& descriptor, const std::string& what);

 private:
  std::vector<uint8_t> bytes_;
  std::string source_;
  nlohmann::json description_;
  uint32_t major_ = 0;
  uint32_t minor_ = 0;
  uint64_t data_offset_ = 0;
  uint64_t data_size_ = 0;
};

}  // namespace ewgs::infer
