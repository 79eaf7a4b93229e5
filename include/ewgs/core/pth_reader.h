// Reading the .pth files that Python's torch.save writes (zip archives since torch 1.6):
// checkpoints and state dicts from PyTorch code, without Python.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ewgs {

/// The whole object pickled in the .pth file at `path`, as a c10::IValue.
///
/// Python values map to: None, bool, int (int64), float (double), str and bytes
/// (string), tuple, list (also set), dict and OrderedDict (GenericDict with any key and
/// value type, keys in file order), tensor and Parameter (CPU tensors, whatever device
/// they were saved from; tensors that shared a storage in Python share it here),
/// torch.device (string such as "cuda:0"), torch.Size (tuple); the element-type tags and
/// typed lists of LibTorch's own pickler (torch::pickle_save, TorchScript archives) are
/// the values they wrap. Everything else loads
/// without error as an opaque value, so that only the parts a caller reads matter:
///   - an object of another class (a pickled nn.Module, a loss, an argparse.Namespace)
///     is a dict {"__class__": "module.Name", (its attributes)...}, see pth_object_class;
///   - a class or other global used as a value (torch.float32) is {"__global__": "torch.float32"}.
///
/// Errors (c10::Error naming `path`): missing or unreadable file, a file that is not a
/// zip archive (the legacy pre-1.6 format included), a truncated or corrupt archive or
/// pickle, an unsupported pickle opcode (its byte and offset), a missing storage record.
///
/// Example:
///   c10::IValue ckpt = ewgs::load_pth("resnet20.pth");
///   int64_t epoch = ckpt.toGenericDict().at("epoch").toInt();
c10::IValue load_pth(const std::string& path);

/// load_pth of a file already in memory: the whole object pickled in the torch.save
/// archive `bytes`. Errors (c10::Error) say what is wrong but not where the bytes came
/// from; callers add that.
c10::IValue load_pth_bytes(std::string_view bytes);

/// The (name, tensor) pairs of a state dict in the .pth file at `path`, in file order.
///
/// With `entry`, the state dict is the top-level dict's value under that key. Without,
/// it is the top-level dict itself when all its values are tensors, else its value under
/// "state_dict", else under "model". Errors list the top-level keys when none fits, and
/// name the key of any value that is not a tensor.
///
/// Example:
///   for (const auto& [name, tensor] : ewgs::load_pth_state_dict("ckpt.pth", "model")) {...}
std::vector<std::pair<std::string, at::Tensor>> load_pth_state_dict(
    const std::string& path, const std::string& entry = "");

/// "module.Name" when `value` is an object that load_pth kept opaque (a dict with a
/// "__class__" entry), else "".
std::string pth_object_class(const c10::IValue& value);

}  // namespace ewgs
