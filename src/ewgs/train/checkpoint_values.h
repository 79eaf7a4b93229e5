// Internal: typed reads of the dicts inside a checkpoint file (read by ewgs's own
// unpickler), where every error names the file and the path of the entry at fault.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace ewgs::train::detail {

/// An empty dict with string keys and values of any type, as checkpoints store them.
c10::impl::GenericDict new_checkpoint_dict();

class CheckpointDict {
 public:
  /// `value` must be a dict with string keys; `where` names it in errors, as
  /// "<file>: checkpoint 'model_optimizer' group 0".
  CheckpointDict(const c10::IValue& value, std::string where);

  bool has(const std::string& key) const;
  /// The entry `key`; errors when it is missing.
  const c10::IValue& at(const std::string& key) const;

  std::string text(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  /// A float entry (an integer is taken as well).
  double real(const std::string& key) const;
  bool flag(const std::string& key) const;
  at::Tensor tensor(const std::string& key) const;
  std::vector<c10::IValue> list(const std::string& key) const;
  CheckpointDict dict(const std::string& key) const;

  /// The entries in file order.
  const c10::impl::GenericDict& entries() const { return dict_; }
  /// "<where> '<key>'", for callers' own errors about an entry.
  std::string name(const std::string& key) const;
  const std::string& where() const { return where_; }

 private:
  c10::impl::GenericDict dict_;
  std::string where_;
};

}  // namespace ewgs::train::detail
