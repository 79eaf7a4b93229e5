// Writes a file so that readers see the old content or the complete new one,
// never a torn write: temporary file in the same folder, fsync, rename, fsync folder.
#pragma once

#include <functional>
#include <string>

namespace ewgs::train {

/// Calls `write(sink)` where sink(data, size) appends bytes, then publishes
/// the file at `path` atomically. On any error the old file is untouched and
/// the temporary one removed; the error names `path` and the system reason.
void write_file_atomically(
    const std::string& path,
    const std::function<void(const std::function<size_t(const void*, size_t)>&)>& write);

} // namespace ewgs::train
