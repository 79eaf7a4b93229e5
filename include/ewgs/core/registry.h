// A named table of factories: quantizers, estimators and models are added by one
// explicit line each and looked up by name, with a clear error for unknown names.
#pragma once

#include <c10/util/Exception.h>

#include <string>
#include <utility>
#include <vector>

#include "ewgs/core/strings.h"

namespace ewgs {

/// Registry of factories of type `Factory`, keyed by a unique name.
///
/// Example:
///   Registry<MakeFn> r("quantizer");
///   r.add("ewgs", "element-wise gradient scaling", make_ewgs);
///   auto q = r.get("ewgs").factory(spec);
template <typename Factory>
class Registry {
 public:
  struct Entry {
    std::string name;
    std::string description;
    Factory factory;
  };

  /// `kind` names what is registered ("quantizer", "model") in error messages.
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  /// Adds an entry; a second entry with the same name is an error.
  void add(std::string name, std::string description, Factory factory) {
    TORCH_CHECK(find(name) == nullptr, "cannot register ", kind_, " '", name, "' twice");
    entries_.push_back({std::move(name), std::move(description), std::move(factory)});
  }

  /// The entry called `name`, or an error listing the registered names and
  /// the closest one.
  const Entry& get(const std::string& name) const {
    if (const Entry* e = find(name)) {
      return *e;
    }
    TORCH_CHECK(
        false,
        "unknown ",
        kind_,
        " '",
        name,
        "'",
        did_you_mean(name, names()),
        "; registered: ",
        join(names(), ", "));
  }

  bool contains(const std::string& name) const { return find(name) != nullptr; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) {
      out.push_back(e.name);
    }
    return out;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& kind() const { return kind_; }

 private:
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_) {
      if (e.name == name) {
        return &e;
      }
    }
    return nullptr;
  }

  std::string kind_;
  std::vector<Entry> entries_;
};

}  // namespace ewgs
