// Class-list comparison (include/ewgs/data/class_names.h).
#include "ewgs/data/class_names.h"

#include <c10/util/Exception.h>

#include <algorithm>

#include "ewgs/core/strings.h"

namespace ewgs::data {
namespace {

/// Names of `a` that `b` lacks, in `a`'s order.
std::vector<std::string> missing_from(
    const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  for (const auto& name : a) {
    if (std::find(b.begin(), b.end(), name) == b.end()) {
      out.push_back(name);
    }
  }
  return out;
}

std::string listed(const std::vector<std::string>& names) {
  return names.empty() ? "none" : join(names, ", ");
}

}  // namespace

void check_same_classes(
    const std::vector<std::string>& ours,
    const std::string& our_source,
    const std::vector<std::string>& theirs,
    const std::string& their_source) {
  if (ours == theirs) {
    return;
  }
  const auto only_ours = missing_from(ours, theirs);
  const auto only_theirs = missing_from(theirs, ours);
  TORCH_CHECK(
      !only_ours.empty() || !only_theirs.empty(),
      "the classes of ",
      their_source,
      " are those of ",
      our_source,
      " in another order (",
      join(theirs, ", "),
      " vs ",
      join(ours, ", "),
      "); labels would not match");
  TORCH_CHECK(
      false,
      "the classes of ",
      their_source,
      " differ from those of ",
      our_source,
      " (classes are matched by name): only in ",
      our_source,
      ": ",
      listed(only_ours),
      "; only in ",
      their_source,
      ": ",
      listed(only_theirs));
}

}  // namespace ewgs::data
