// Files that prove their integrity: the payload followed by a 20-byte trailer (a
// marker, the payload's length and its CRC-32), checked before anything is parsed.
#pragma once

#include <string>
#include <string_view>

namespace ewgs {

/// Bytes of the trailer: "EWGS-CRC", payload length (uint64), CRC-32 (uint32),
/// both little-endian.
constexpr size_t kChecksumTrailerBytes = 20;

/// `payload` with its trailer appended.
std::string append_checksum(std::string payload);

/// Whether `file` ends with a trailer marker (its checksum is not verified).
bool has_checksum(std::string_view file);

/// The payload of `file` once its trailer checks out. Errors name `name` and
/// say what is wrong: no trailer (truncated, or not written with a checksum),
/// bytes appended after the trailer, a length that does not match, or a
/// checksum mismatch (corrupt bytes).
std::string_view verified_payload(std::string_view file, const std::string& name);

}  // namespace ewgs
