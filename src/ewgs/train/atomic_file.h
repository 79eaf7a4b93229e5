// Writes a file so that readers see the old content or the complete new one,
// never a torn write: temporary file in the same folder, fsync, rename, fsync folder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ewgs/train/write_observer.h"

namespace ewgs::train {

/// Publishes `content` at `path` atomically. On any error the old file is
/// untouched and the temporary one removed; the error names `path`, the
/// system's reason and, when it ran out of room, the bytes needed and free.
void write_file_atomically(
    const std::string& path, std::string_view content, const WriteObserver& observer = {});

/// Renames the complete file `from` over `to` (same folder) and syncs the
/// folder, telling `observer` of `to` before and after.
void publish_file(
    const std::string& from, const std::string& to, const WriteObserver& observer = {});

/// Bytes an unprivileged writer may still use in the file system holding
/// `folder`, or UINT64_MAX when the system cannot tell.
uint64_t free_bytes(const std::string& folder);

/// "1.4 MB (1468006 bytes)".
std::string describe_bytes(uint64_t bytes);

/// Removes the temporary files that write_file_atomically left in `folder`
/// when its process died (".<name>.tmp.<pid>" whose process is gone) and
/// returns their names.
std::vector<std::string> remove_stale_temporaries(const std::string& folder);

}  // namespace ewgs::train
