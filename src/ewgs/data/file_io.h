// Internal: whole-file reads (plain and gzip) with errors that name the file, used by
// the IDX, CIFAR and image readers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ewgs::data::detail {

/// Whether `path` names an existing regular file.
bool is_file(const std::string& path);

/// Reads the whole file at `path` into `out`, reusing its capacity.
void read_file(const std::string& path, std::vector<uint8_t>& out);

/// Reads and inflates the whole gzip file at `path`.
std::vector<uint8_t> read_gzip_file(const std::string& path);

/// `read_gzip_file` for names ending in ".gz", else `read_file`.
std::vector<uint8_t> read_maybe_gzip_file(const std::string& path);

}  // namespace ewgs::data::detail
