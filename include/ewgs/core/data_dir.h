// The data folder (data sets, pretrained checkpoints) and the ${EWGS_DATA_DIR}
// placeholder, so that recipes name their files without a machine's absolute path.
#pragma once

#include <string>

namespace ewgs {

/// The data folder: $EWGS_DATA_DIR when set and not empty, else the folder the
/// build was configured with (CMake's EWGS_DATA_DIR; default ../shared/data
/// beside the source tree).
std::string data_dir();

/// `value` with every "${EWGS_DATA_DIR}" replaced by data_dir(). Any other
/// "${...}" is an error naming `what` (e.g. "cfg.toml: data.root"), as is a "${"
/// without its closing brace.
///
/// Example: expand_data_dir("${EWGS_DATA_DIR}/cifar10-jpeg.tar.gz", "data.root")
std::string expand_data_dir(const std::string& value, const std::string& what);

/// For an error about `path` that is missing: when it lies in data_dir(), a clause
/// saying where that folder came from and how to move it ("; ${EWGS_DATA_DIR} is
/// ... : set EWGS_DATA_DIR to the folder that holds the data"), else "".
std::string data_dir_note(const std::string& path);

}  // namespace ewgs
