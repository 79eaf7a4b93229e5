// The data set factory (include/ewgs/data/open_dataset.h): the kind's entry of the
// data-set table opens it, at its default root when none is given.
#include "ewgs/data/open_dataset.h"

#include <c10/util/Exception.h>

#include <filesystem>

#include "ewgs/core/data_dir.h"

namespace ewgs::data {

std::shared_ptr<Dataset> open_dataset(
    const std::string& kind,
    const std::string& root,
    const std::string& split,
    const OpenOptions& options) {
  const auto& entry = dataset_kind(kind);
  // Configs read from files have their placeholders expanded already; one filled
  // in code may still hold ${EWGS_DATA_DIR}.
  const std::string where =
      expand_data_dir(root.empty() ? entry.default_root : root, "data root of '" + kind + "'");
  TORCH_CHECK(
      !where.empty(), "data set '", kind, "' has no default root; set data.root to its folder");
  TORCH_CHECK(!split.empty(), "data set '", kind, "': data.split must not be empty");
  TORCH_CHECK(
      std::filesystem::exists(where),
      "data set '",
      kind,
      "': ",
      where,
      " does not exist",
      data_dir_note(where));
  return entry.open(where, split, options);
}

}  // namespace ewgs::data
