// Labels are indices into a list of class names; two sources agree only when those
// lists are equal, so a split whose classes differ is an error, never a relabelling.
#pragma once

#include <string>
#include <vector>

namespace ewgs::data {

/// Errors unless `theirs` equals `ours` (same names, same order). The message
/// names both sources, e.g. "the training split" and "the test split", and
/// lists the classes only one of them has, or both orders when the names
/// agree but their order does not.
void check_same_classes(
    const std::vector<std::string>& ours,
    const std::string& our_source,
    const std::vector<std::string>& theirs,
    const std::string& their_source);

}  // namespace ewgs::data
