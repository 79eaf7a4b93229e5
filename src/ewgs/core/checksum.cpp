// CRC-32 trailers (include/ewgs/core/checksum.h), computed with zlib.
#include "ewgs/core/checksum.h"

#include <c10/util/Exception.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>

namespace ewgs {
namespace {

constexpr std::string_view kMarker = "EWGS-CRC";

uint32_t crc32_of(std::string_view bytes) {
  return static_cast<uint32_t>(::crc32_z(
      ::crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

uint64_t get_le(std::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  }
  return value;
}

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

}  // namespace

std::string append_checksum(std::string payload) {
  const uint32_t crc = crc32_of(payload);
  const uint64_t length = payload.size();
  payload.append(kMarker);
  put_le(payload, length, 8);
  put_le(payload, crc, 4);
  return payload;
}

bool has_checksum(std::string_view file) {
  return file.size() >= kChecksumTrailerBytes &&
         file.substr(file.size() - kChecksumTrailerBytes, kMarker.size()) == kMarker;
}

std::string_view verified_payload(std::string_view file, const std::string& name) {
  if (!has_checksum(file)) {
    // A trailer followed by appended bytes still has its marker in the file.
    const size_t marker = file.rfind(kMarker);
    const bool appended = marker != std::string_view::npos &&
                          marker + kChecksumTrailerBytes <= file.size() &&
                          get_le(file, marker + kMarker.size(), 8) == marker;
    TORCH_CHECK(
        !appended,
        name,
        ": ",
        file.size() - marker - kChecksumTrailerBytes,
        " bytes follow its checksum trailer (data appended to the file); it is not a checkpoint as "
        "written");
    TORCH_CHECK(
        false,
        name,
        ": no checksum trailer at the end of its ",
        file.size(),
        " bytes: the file is truncated, or was not written by this version of ewgs");
  }
  const size_t at = file.size() - kChecksumTrailerBytes;
  const uint64_t length = get_le(file, at + kMarker.size(), 8);
  TORCH_CHECK(
      length == at,
      name,
      ": its checksum trailer covers ",
      length,
      " bytes but ",
      at,
      " precede it: the file is corrupt or truncated");
  const auto payload = file.substr(0, at);
  const auto stored = static_cast<uint32_t>(get_le(file, at + kMarker.size() + 8, 4));
  const uint32_t computed = crc32_of(payload);
  TORCH_CHECK(
      stored == computed,
      name,
      ": checksum mismatch (stored CRC-32 ",
      hex(stored),
      ", computed ",
      hex(computed),
      "): the file is corrupt");
  return payload;
}

}  // namespace ewgs
