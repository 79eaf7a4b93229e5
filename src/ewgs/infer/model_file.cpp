// Reading and writing the .ewgsm container (include/ewgs/infer/model_file.h).
#include "ewgs/infer/model_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "ewgs/infer/error.h"

namespace ewgs::infer {
namespace {

constexpr char kMagic[8] = {'E', 'W', 'G', 'S', 'M', 'O', 'D', 'L'};

// Header field offsets (docs/MODEL_FORMAT.md).
constexpr size_t kMajorAt = 8;
constexpr size_t kMinorAt = 12;
constexpr size_t kStoredJsonSizeAt = 16;
constexpr size_t kDataOffsetAt = 24;
constexpr size_t kDataSizeAt = 32;
constexpr size_t kJsonCrcAt = 40;
constexpr size_t kDataCrcAt = 44;
constexpr size_t kFileSizeAt = 48;
constexpr size_t kJsonSizeAt = 56;

/// Largest description a reader inflates (a damaged size must not allocate gigabytes).
constexpr uint64_t kMaxJsonBytes = 64 << 20;
constexpr size_t kHeaderCrcAt = 60;

static_assert(kHeaderCrcAt + 4 == kHeaderBytes, "header fields must fill the fixed header");

uint64_t round_up(uint64_t n, uint64_t to) {
  return (n + to - 1) / to * to;
}

template <typename T>
void put(std::vector<uint8_t>& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof(T));
}

template <typename T>
T get(const std::vector<uint8_t>& in, size_t at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof(T));
  return value;
}

uint32_t crc32_of(const uint8_t* data, uint64_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const uInt chunk =
        static_cast<uInt>(std::min<uint64_t>(size, std::numeric_limits<uInt>::max()));
    crc = crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

bool little_endian_host() {
  const uint16_t probe = 1;
  uint8_t first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

}  // namespace

const char* to_string(ArrayType type) {
  switch (type) {
    case ArrayType::kF64:
      return "f64";
    case ArrayType::kF32:
      return "f32";
    case ArrayType::kI32:
      return "i32";
    case ArrayType::kU8:
      return "u8";
    case ArrayType::kU1:
      return "u1";
    case ArrayType::kU2:
      return "u2";
    case ArrayType::kU3:
      return "u3";
    case ArrayType::kU4:
      return "u4";
  }
  return "?";
}

ArrayType array_type_from_string(const std::string& name) {
  for (const auto type :
       {ArrayType::kF64,
        ArrayType::kF32,
        ArrayType::kI32,
        ArrayType::kU8,
        ArrayType::kU1,
        ArrayType::kU2,
        ArrayType::kU3,
        ArrayType::kU4}) {
    if (name == to_string(type)) {
      return type;
    }
  }
  throw Error("unknown array type '" + name + "'; expected f64, f32, i32, u8 or u1..u4");
}

int array_type_bits(ArrayType type) {
  switch (type) {
    case ArrayType::kF64:
      return 64;
    case ArrayType::kF32:
    case ArrayType::kI32:
      return 32;
    case ArrayType::kU8:
      return 8;
    case ArrayType::kU1:
      return 1;
    case ArrayType::kU2:
      return 2;
    case ArrayType::kU3:
      return 3;
    case ArrayType::kU4:
      return 4;
  }
  return 0;
}

uint64_t array_bytes(ArrayType type, const std::vector<int64_t>& shape) {
  uint64_t rows = 1;
  uint64_t row = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    EWGS_INFER_CHECK(
        shape[i] >= 0 && shape[i] < (int64_t{1} << 40), "array dimension ", i, " is ", shape[i]);
    (i == 0 && shape.size() > 1 ? rows : row) *= static_cast<uint64_t>(shape[i]);
    EWGS_INFER_CHECK(
        rows < (uint64_t{1} << 40) && row < (uint64_t{1} << 40),
        "array of ",
        shape.size(),
        " dimensions is too large");
  }
  return rows * round_up(row * static_cast<uint64_t>(array_type_bits(type)), 8) / 8;
}

nlohmann::json ModelFileWriter::add_array(
    ArrayType type, const std::vector<int64_t>& shape, const void* bytes, uint64_t size) {
  EWGS_INFER_CHECK(
      size == array_bytes(type, shape),
      "model writer: a ",
      to_string(type),
      " array of shape [",
      shape.size(),
      " dims] needs ",
      array_bytes(type, shape),
      " bytes, got ",
      size);
  const uint64_t offset = round_up(data_.size(), kArrayAlignment);
  data_.resize(offset + size, 0);
  if (size > 0) {
    std::memcpy(data_.data() + offset, bytes, size);
  }
  return {{"type", to_string(type)}, {"shape", shape}, {"offset", offset}, {"bytes", size}};
}

nlohmann::json ModelFileWriter::add_f64(
    const std::vector<double>& values, const std::vector<int64_t>& shape) {
  return add_array(ArrayType::kF64, shape, values.data(), values.size() * sizeof(double));
}

nlohmann::json ModelFileWriter::add_f32(
    const std::vector<float>& values, const std::vector<int64_t>& shape) {
  return add_array(ArrayType::kF32, shape, values.data(), values.size() * sizeof(float));
}

namespace {

/// The description deflated by zlib: names and field keys repeat from layer to
/// layer, so it shrinks about five times.
std::vector<uint8_t> deflate_json(const std::string& json) {
  EWGS_INFER_CHECK(
      json.size() <= kMaxJsonBytes,
      "model writer: the description has ",
      json.size(),
      " bytes; at most ",
      kMaxJsonBytes,
      " are allowed");
  uLongf size = compressBound(static_cast<uLong>(json.size()));
  std::vector<uint8_t> out(size);
  const int status = compress2(
      out.data(),
      &size,
      reinterpret_cast<const Bytef*>(json.data()),
      static_cast<uLong>(json.size()),
      Z_BEST_COMPRESSION);
  EWGS_INFER_CHECK(
      status == Z_OK, "model writer: zlib failed to deflate the description (error ", status, ")");
  out.resize(size);
  return out;
}

std::string inflate_json(
    const uint8_t* stored, uint64_t stored_size, uint64_t json_size, const std::string& source) {
  EWGS_INFER_CHECK(
      json_size <= kMaxJsonBytes,
      source,
      ": the header declares a description of ",
      json_size,
      " bytes; at most ",
      kMaxJsonBytes,
      " are allowed");
  std::string json(json_size, '\0');
  uLongf size = static_cast<uLongf>(json_size);
  const int status = uncompress(
      reinterpret_cast<Bytef*>(json.data()), &size, stored, static_cast<uLong>(stored_size));
  EWGS_INFER_CHECK(
      status == Z_OK && size == json_size,
      source,
      ": the model description does not inflate to the ",
      json_size,
      " bytes the header declares (zlib status ",
      status,
      ", ",
      size,
      " bytes)");
  return json;
}

}  // namespace

std::vector<uint8_t> ModelFileWriter::finish(const nlohmann::json& description) const {
  EWGS_INFER_CHECK(
      little_endian_host(), "model writer: model files are little-endian; this host is not");
  const std::string text = description.dump();
  const auto json = deflate_json(text);
  const uint64_t data_offset = round_up(kHeaderBytes + json.size(), kArrayAlignment);
  const uint64_t data_size = round_up(data_.size(), kArrayAlignment);
  std::vector<uint8_t> out(data_offset + data_size, 0);
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  std::memcpy(out.data() + kHeaderBytes, json.data(), json.size());
  if (!data_.empty()) {
    std::memcpy(out.data() + data_offset, data_.data(), data_.size());
  }
  put<uint32_t>(out, kMajorAt, kFormatMajor);
  put<uint32_t>(out, kMinorAt, kFormatMinor);
  put<uint64_t>(out, kStoredJsonSizeAt, json.size());
  put<uint64_t>(out, kDataOffsetAt, data_offset);
  put<uint64_t>(out, kDataSizeAt, data_size);
  put<uint32_t>(out, kJsonCrcAt, crc32_of(out.data() + kHeaderBytes, data_offset - kHeaderBytes));
  put<uint32_t>(out, kDataCrcAt, crc32_of(out.data() + data_offset, data_size));
  put<uint64_t>(out, kFileSizeAt, out.size());
  put<uint32_t>(out, kJsonSizeAt, static_cast<uint32_t>(text.size()));
  put<uint32_t>(out, kHeaderCrcAt, ModelFile::header_crc(out.data()));
  return out;
}

void ModelFileWriter::write(const std::string& path, const nlohmann::json& description) const {
  const auto bytes = finish(description);
  const std::string temporary = path + ".partial";
  {
    std::FILE* file = std::fopen(temporary.c_str(), "wb");
    EWGS_INFER_CHECK(file != nullptr, "cannot create ", temporary, ": ", std::strerror(errno));
    const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
    const int write_errno = errno;
    const bool flushed = std::fflush(file) == 0;
    const bool closed = std::fclose(file) == 0;
    if (written != bytes.size() || !flushed || !closed) {
      std::remove(temporary.c_str());
      throw Error(detail::concat(
          "cannot write ",
          bytes.size(),
          " bytes to ",
          temporary,
          ": ",
          std::strerror(write_errno),
          " (is the disk full?)"));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw Error("cannot rename " + temporary + " to " + path + ": " + ec.message());
  }
}

ModelFile ModelFile::read(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  EWGS_INFER_CHECK(!ec && std::filesystem::exists(status), "model file ", path, " does not exist");
  EWGS_INFER_CHECK(
      std::filesystem::is_regular_file(status), "model file ", path, " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  EWGS_INFER_CHECK(in.good(), "cannot open model file ", path, ": ", std::strerror(errno));
  std::vector<uint8_t> bytes(std::filesystem::file_size(path, ec));
  EWGS_INFER_CHECK(!ec, "cannot read the size of model file ", path, ": ", ec.message());
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  EWGS_INFER_CHECK(
      in.gcount() == static_cast<std::streamsize>(bytes.size()),
      "model file ",
      path,
      ": could read only ",
      in.gcount(),
      " of ",
      bytes.size(),
      " bytes");
  return parse(std::move(bytes), path);
}

ModelFile ModelFile::parse(std::vector<uint8_t> bytes, const std::string& source) {
  EWGS_INFER_CHECK(
      little_endian_host(), source, ": model files are little-endian; this host is not");
  EWGS_INFER_CHECK(
      bytes.size() >= kHeaderBytes && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0,
      source,
      " is not an ewgs model file (no 'EWGSMODL' header; expected a file written by "
      "'ewgs export')");
  EWGS_INFER_CHECK(
      header_crc(bytes.data()) == get<uint32_t>(bytes, kHeaderCrcAt),
      source,
      ": the file header is damaged (CRC-32 mismatch)");
  ModelFile file;
  file.source_ = source;
  file.major_ = get<uint32_t>(bytes, kMajorAt);
  file.minor_ = get<uint32_t>(bytes, kMinorAt);
  EWGS_INFER_CHECK(
      file.major_ == kFormatMajor,
      source,
      ": format version ",
      file.major_,
      ".",
      file.minor_,
      " is not supported; this engine reads version ",
      kFormatMajor,
      ".x");
  const auto declared_size = get<uint64_t>(bytes, kFileSizeAt);
  EWGS_INFER_CHECK(
      declared_size == bytes.size(),
      source,
      ": the header says ",
      declared_size,
      " bytes but the file has ",
      bytes.size(),
      declared_size > bytes.size() ? " (truncated)" : " (extra bytes appended)");
  const auto json_size = get<uint64_t>(bytes, kStoredJsonSizeAt);
  file.data_offset_ = get<uint64_t>(bytes, kDataOffsetAt);
  file.data_size_ = get<uint64_t>(bytes, kDataSizeAt);
  EWGS_INFER_CHECK(
      json_size <= bytes.size() - kHeaderBytes && file.data_offset_ >= kHeaderBytes + json_size &&
          file.data_offset_ % kArrayAlignment == 0 && file.data_offset_ <= bytes.size() &&
          file.data_size_ == bytes.size() - file.data_offset_,
      source,
      ": damaged header (description of ",
      json_size,
      " bytes, data at ",
      file.data_offset_,
      " of ",
      file.data_size_,
      " bytes, in a file of ",
      bytes.size(),
      " bytes)");
  EWGS_INFER_CHECK(
      crc32_of(bytes.data() + kHeaderBytes, file.data_offset_ - kHeaderBytes) ==
          get<uint32_t>(bytes, kJsonCrcAt),
      source,
      ": the model description is damaged (CRC-32 mismatch)");
  EWGS_INFER_CHECK(
      crc32_of(bytes.data() + file.data_offset_, file.data_size_) ==
          get<uint32_t>(bytes, kDataCrcAt),
      source,
      ": the weight data is damaged (CRC-32 mismatch)");
  const auto json = inflate_json(
      bytes.data() + kHeaderBytes, json_size, get<uint32_t>(bytes, kJsonSizeAt), source);
  try {
    file.description_ = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": the model description is not valid JSON: " + e.what());
  }
  EWGS_INFER_CHECK(
      file.description_.is_object(), source, ": the model description must be a JSON object");
  file.bytes_ = std::move(bytes);
  return file;
}

uint32_t ModelFile::header_crc(const uint8_t* header) {
  return crc32_of(header, kHeaderCrcAt);
}

std::vector<int64_t> ModelFile::array_shape(
    const nlohmann::json& descriptor, const std::string& what) {
  EWGS_INFER_CHECK(
      descriptor.is_object() && descriptor.contains("shape") && descriptor["shape"].is_array(),
      what,
      ": expected an array descriptor with a \"shape\" list");
  std::vector<int64_t> shape;
  for (const auto& d : descriptor["shape"]) {
    EWGS_INFER_CHECK(
        d.is_number_integer() && d.get<int64_t>() >= 0,
        what,
        ": shape entries must be integers >= 0");
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

const uint8_t* ModelFile::array(
    const nlohmann::json& descriptor, ArrayType type, const std::string& what) const {
  const auto shape = array_shape(descriptor, what);
  const auto non_negative = [&](const char* key) {
    return descriptor.contains(key) && descriptor[key].is_number_integer() &&
           descriptor[key].get<int64_t>() >= 0;
  };
  EWGS_INFER_CHECK(
      descriptor.contains("type") && descriptor["type"].is_string() && non_negative("offset") &&
          non_negative("bytes"),
      source_,
      ": ",
      what,
      ": an array descriptor needs type, shape, offset and bytes");
  const auto stored = array_type_from_string(descriptor["type"].get<std::string>());
  EWGS_INFER_CHECK(
      stored == type,
      source_,
      ": ",
      what,
      " is stored as ",
      to_string(stored),
      ", expected ",
      to_string(type));
  const auto offset = descriptor["offset"].get<uint64_t>();
  const auto size = descriptor["bytes"].get<uint64_t>();
  EWGS_INFER_CHECK(
      size == array_bytes(type, shape),
      source_,
      ": ",
      what,
      " has ",
      size,
      " bytes; its shape needs ",
      array_bytes(type, shape));
  EWGS_INFER_CHECK(
      offset % kArrayAlignment == 0 && offset <= data_size_ && size <= data_size_ - offset,
      source_,
      ": ",
      what,
      " (",
      size,
      " bytes at ",
      offset,
      ") lies outside the data section of ",
      data_size_,
      " bytes");
  return bytes_.data() + data_offset_ + offset;
}

}  // namespace ewgs::infer
