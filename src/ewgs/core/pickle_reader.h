// Internal: a bounds-checked interpreter for Python pickle programs (protocols 2-4, as
// torch.save writes them) producing c10::IValue. It exists because LibTorch 1.13's
// torch::pickle_load cannot read a state dict, which torch.save writes as an OrderedDict.
#pragma once

#include <ATen/core/ivalue.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ewgs::detail {

/// How an unpickled program reaches beyond plain Python values.
struct PickleHooks {
  /// The object for a BINPERSID persistent id (torch.save: a storage tuple).
  /// Unset: persistent ids are an error.
  std::function<c10::IValue(const c10::IValue& pid)> persistent_load;

  /// The result of calling the global `name` ("module.qualname", Python 2 module names
  /// already mapped to Python 3) with `args`, or nullopt to let the reader handle it
  /// as a generic Python callable (containers, sets, or an opaque object).
  std::function<std::optional<c10::IValue>(
      const std::string& name, const std::vector<c10::IValue>& args)>
      call;
};

/// Runs the pickle program `data[0, size)` and returns the object that STOP leaves.
///
/// Values: None, bool, int (int64), float (double), str and bytes (std::string),
/// tuple, list (also sets), dict (GenericDict, insertion order kept; also OrderedDict).
/// A global used as a value (a class, a dtype such as torch.float32) is the dict
/// {"__global__": "module.name"}; an object of a class the reader does not know is the
/// dict {"__class__": "module.Name", ...}: its BUILD state merged in, its constructor
/// arguments (if any) under "__args__". Errors name `context` and the byte offset.
c10::IValue unpickle(
    const char* data, size_t size, const PickleHooks& hooks, const std::string& context);

/// "module.name" when `value` is a global reference made by the reader, else "".
std::string pickle_global_name(const c10::IValue& value);

/// "module.Name" when `value` is an opaque object made by the reader, else "".
std::string pickle_object_class(const c10::IValue& value);

/// The elements of the tuple `value`.
std::vector<c10::IValue> tuple_items(const c10::IValue& value);

/// A short description of `value` for error messages ("tensor", "object of class 'x.Y'").
std::string describe_pickle_value(const c10::IValue& value);

}  // namespace ewgs::detail
