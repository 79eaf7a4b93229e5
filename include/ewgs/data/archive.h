// Extraction of data archives (the CIFAR-10 JPEG tarball) into a cache folder, once per
// source file, with libarchive; members that would land outside the folder are refused.
// Tests, benchmarks and training never unpack into the source tree.
#pragma once

#include <string>

namespace ewgs::data {

/// Folder for extracted data: $EWGS_CACHE_DIR, else $XDG_CACHE_HOME/ewgs, else
/// $HOME/.cache/ewgs, else /tmp/ewgs-cache.
std::string default_cache_dir();

/// Returns `cache_dir/folder-KEY`, first extracting the tar archive
/// `archive` (any compression libarchive reads) into it when missing. The key
/// hashes the archive's canonical path, size and modification time, so another
/// or a changed archive never reuses a stale copy; a missing archive is an
/// error even when some copy is cached. `folder` is the archive's top folder.
/// Members with absolute paths or '..', links leading outside, and special
/// files are refused. Extraction goes to a temporary folder renamed into
/// place, so an interrupted run leaves no half-extracted folder. Errors name
/// the archive (and the member).
///
/// Example:
///   extract_once("/work/shared/data/cifar10-jpeg.tar.gz", "cifar10-jpeg")
///     == default_cache_dir() + "/cifar10-jpeg-3f2a..."
std::string extract_once(
    const std::string& archive,
    const std::string& folder,
    const std::string& cache_dir = default_cache_dir());

}  // namespace ewgs::data
