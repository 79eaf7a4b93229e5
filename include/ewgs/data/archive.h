// Extraction of data archives (the CIFAR-10 JPEG tarball) into a cache folder, once,
// so tests, benchmarks and training never unpack into the source tree.
#pragma once

#include <string>

namespace ewgs::data {

/// Folder for extracted data: $EWGS_CACHE_DIR, else $XDG_CACHE_HOME/ewgs, else
/// $HOME/.cache/ewgs, else /tmp/ewgs-cache.
std::string default_cache_dir();

/// Returns `cache_dir`/`folder`, first extracting the tar archive `archive`
/// (compression detected by tar) into `cache_dir` when that folder is missing.
/// `folder` is the archive's top folder. Extraction goes to a temporary folder
/// renamed into place, so an interrupted run leaves no half-extracted `folder`.
/// Runs `tar` through std::system; errors name the archive and tar's exit status.
///
/// Example:
///   extract_once("/work/shared/data/cifar10-jpeg.tar.gz", "cifar10-jpeg")
///     == default_cache_dir() + "/cifar10-jpeg"
std::string extract_once(
    const std::string& archive,
    const std::string& folder,
    const std::string& cache_dir = default_cache_dir());

}  // namespace ewgs::data
