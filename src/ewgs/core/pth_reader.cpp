// Reading torch.save archives (include/ewgs/core/pth_reader.h): the zip records, read
// and CRC-checked by libarchive (zip_records.h); data.pkl unpickled; tensors rebuilt
// as views of the storage records stored beside it.
#include "ewgs/core/pth_reader.h"

#include <ATen/ops/empty.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/Storage.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "ewgs/core/files.h"
#include "ewgs/core/strings.h"
#include "pickle_reader.h"
#include "pth_archive.h"
#include "zip_records.h"

namespace ewgs {
namespace {

using detail::describe_pickle_value;
using detail::tuple_items;

struct StorageType {
  const char* name;
  c10::ScalarType dtype;
};

constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", c10::ScalarType::Float},
    {"torch.DoubleStorage", c10::ScalarType::Double},
    {"torch.HalfStorage", c10::ScalarType::Half},
    {"torch.BFloat16Storage", c10::ScalarType::BFloat16},
    {"torch.LongStorage", c10::ScalarType::Long},
    {"torch.IntStorage", c10::ScalarType::Int},
    {"torch.ShortStorage", c10::ScalarType::Short},
    {"torch.CharStorage", c10::ScalarType::Char},
    {"torch.ByteStorage", c10::ScalarType::Byte},
    {"torch.BoolStorage", c10::ScalarType::Bool},
    {"torch.ComplexFloatStorage", c10::ScalarType::ComplexFloat},
    {"torch.ComplexDoubleStorage", c10::ScalarType::ComplexDouble},
    {"torch.UntypedStorage", c10::ScalarType::Byte},
};

/// Rebuilding calls nest only through _rebuild_from_type; deeper is a corrupt file.
constexpr int kMaxCallDepth = 8;

c10::ScalarType storage_dtype(const std::string& type) {
  for (const auto& t : kStorageTypes) {
    if (type == t.name) {
      return t.dtype;
    }
  }
  TORCH_CHECK(false, "unsupported storage type '", type, "'");
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

int64_t to_int(const c10::IValue& value, const std::string& what) {
  TORCH_CHECK(value.isInt(), what, ": expected an int, got ", describe_pickle_value(value));
  return value.toInt();
}

/// A tuple (or list) of non-negative ints: a tensor's size or stride.
std::vector<int64_t> to_dims(const c10::IValue& value, const std::string& what) {
  TORCH_CHECK(
      value.isTuple() || value.isList(),
      what,
      ": expected a tuple of ints, got ",
      describe_pickle_value(value));
  const auto items = value.isTuple() ? tuple_items(value) : value.toList().vec();
  std::vector<int64_t> dims;
  dims.reserve(items.size());
  for (const auto& item : items) {
    dims.push_back(to_int(item, what));
    TORCH_CHECK(dims.back() >= 0, what, ": expected values >= 0, got ", dims.back());
  }
  return dims;
}

/// Checks that a file starts like a torch.save zip archive.
void check_file_header(std::string_view bytes) {
  TORCH_CHECK(
      bytes.size() >= 4, "file of ", bytes.size(), " bytes is too short to be a .pth archive");
  const auto* magic = reinterpret_cast<const unsigned char*>(bytes.data());
  TORCH_CHECK(
      magic[0] != 0x80,
      "legacy (pre-1.6) torch.save format, not a zip archive: re-save it with torch >= 1.6, "
      "e.g. torch.save(torch.load(p), p)");
  char shown[32];
  std::snprintf(
      shown, sizeof shown, "0x%02x 0x%02x 0x%02x 0x%02x", magic[0], magic[1], magic[2], magic[3]);
  TORCH_CHECK(
      std::memcmp(magic, "PK\x03\x04", 4) == 0,
      "not a zip archive (torch.save files start with 'PK\\x03\\x04'), got bytes ",
      shown);
}

/// One open archive: answers the pickle's requests for storages and torch callables.
class PthArchive {
 public:
  explicit PthArchive(detail::ZipRecords& records) : records_(records) {}

  c10::IValue load() {
    const std::string pickle = find_pickle();
    prefix_ = pickle.substr(0, pickle.size() - std::strlen("data.pkl"));
    read_byte_order();
    const auto program = records_.view(pickle);
    detail::PickleHooks hooks;
    hooks.persistent_load = [this](const c10::IValue& pid) { return load_storage(pid); };
    hooks.call = [this](const std::string& name, const std::vector<c10::IValue>& args) {
      return call(name, args, 0);
    };
    return detail::unpickle(program.data(), program.size(), hooks, pickle);
  }

 private:
  /// The pickle record: "data.pkl", or "<dir>/data.pkl" where the listing keeps a prefix.
  std::string find_pickle() {
    const auto& records = records_.names();
    const std::string* best = nullptr;
    for (const auto& name : records) {
      const bool match = name == "data.pkl" ||
                         (name.size() > 9 && name.compare(name.size() - 9, 9, "/data.pkl") == 0);
      if (match && (best == nullptr || name.size() < best->size())) {
        best = &name;
      }
    }
    if (best == nullptr) {
      std::vector<std::string> shown(
          records.begin(), records.begin() + std::min<size_t>(records.size(), 8));
      TORCH_CHECK(
          false,
          "the archive has no data.pkl record (not a torch.save file?); records: ",
          join(shown, ", "),
          records.size() > shown.size() ? ", ..." : "");
    }
    return *best;
  }

  void read_byte_order() {
    const std::string name = prefix_ + "byteorder";
    if (!records_.has(name)) {
      return;  // Only newer torch versions write it; files without it are little-endian.
    }
    const std::string order = trim(std::string(records_.view(name)));
    TORCH_CHECK(
        order == "little" || order == "big",
        "record '",
        name,
        "': expected 'little' or 'big', got '",
        order,
        "'");
    swap_bytes_ = (order == "little") != host_is_little_endian();
  }

  c10::Storage storage_for(const std::string& key, c10::ScalarType dtype, int64_t numel) {
    const std::string name = prefix_ + "data/" + key;
    const size_t item = c10::elementSize(dtype);
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      c10::Storage storage;
      if (records_.has(name)) {
        storage = records_.take_storage(name);
        if (swap_bytes_ && item > 1) {
          // data_ptr().get(): writable under LibTorch 1.x and 2.x (2.x made data() const).
          auto* data = static_cast<char*>(storage.data_ptr().get());
          for (size_t i = 0; i + item <= storage.nbytes(); i += item) {
            std::reverse(data + i, data + i + item);
          }
        }
      } else {
        TORCH_CHECK(numel == 0, "missing storage record '", name, "'");
        storage = c10::Storage(
            c10::Storage::use_byte_size_t(), int64_t{0}, c10::GetCPUAllocator(), false);
      }
      it = storages_.emplace(key, std::move(storage)).first;
    }
    uint64_t need = 0;
    TORCH_CHECK(
        !__builtin_mul_overflow(static_cast<uint64_t>(numel), item, &need) &&
            need <= it->second.nbytes(),
        "storage record '",
        name,
        "' holds ",
        it->second.nbytes(),
        " bytes, expected ",
        numel,
        " elements of ",
        c10::toString(dtype));
    return it->second;
  }

  /// ('storage', torch.XStorage, key, location, numel): a 1-D tensor over the whole
  /// storage, on the CPU whatever the location.
  c10::IValue load_storage(const c10::IValue& pid) {
    TORCH_CHECK(pid.isTuple(), "persistent id: expected a tuple, got ", describe_pickle_value(pid));
    const auto items = tuple_items(pid);
    TORCH_CHECK(
        items.size() >= 5 && items[0].isString() && items[0].toStringRef() == "storage",
        "persistent id: expected ('storage', type, key, location, numel), got a tuple of ",
        items.size(),
        " starting with ",
        items.empty() ? "nothing" : describe_pickle_value(items[0]));
    const std::string type = detail::pickle_global_name(items[1]);
    TORCH_CHECK(
        !type.empty(),
        "persistent id: expected a storage type, got ",
        describe_pickle_value(items[1]));
    const c10::ScalarType dtype = storage_dtype(type);
    TORCH_CHECK(
        items[2].isString(),
        "persistent id: expected a string key, got ",
        describe_pickle_value(items[2]));
    const int64_t numel = to_int(items[4], "persistent id numel");
    TORCH_CHECK(numel >= 0, "persistent id: negative numel ", numel);
    const c10::Storage storage = storage_for(items[2].toStringRef(), dtype, numel);
    at::Tensor view = at::empty({0}, at::TensorOptions().dtype(dtype));
    view.set_(storage, 0, {numel}, {1});
    return view;
  }

  /// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, meta])
  /// or _rebuild_tensor(storage, storage_offset, size, stride).
  at::Tensor rebuild_tensor(const std::string& name, const std::vector<c10::IValue>& args) {
    const bool v2 = name == "torch._utils._rebuild_tensor_v2";
    TORCH_CHECK(
        args.size() >= (v2 ? 5u : 4u),
        name,
        ": expected (storage, storage_offset, size, stride",
        v2 ? ", requires_grad, ...)" : ")",
        ", got ",
        args.size(),
        " arguments");
    TORCH_CHECK(
        args[0].isTensor(), name, ": expected a storage, got ", describe_pickle_value(args[0]));
    const at::Tensor& source = args[0].toTensor();
    const int64_t offset = to_int(args[1], name + " storage_offset");
    TORCH_CHECK(offset >= 0, name, ": negative storage_offset ", offset);
    const auto size = to_dims(args[2], name + " size");
    const auto stride = to_dims(args[3], name + " stride");
    TORCH_CHECK(
        size.size() == stride.size(),
        name,
        ": size has ",
        size.size(),
        " dims, stride has ",
        stride.size());
    const int64_t capacity =
        static_cast<int64_t>(source.storage().nbytes() / source.element_size());
    // One past the last element the view reaches; empty views reach nothing.
    int64_t end = offset;
    bool empty = false;
    bool overflow = false;
    for (size_t d = 0; d < size.size(); ++d) {
      int64_t reach = 0;
      empty = empty || size[d] == 0;
      overflow = overflow ||
                 __builtin_mul_overflow(size[d] > 0 ? size[d] - 1 : 0, stride[d], &reach) ||
                 __builtin_add_overflow(end, reach, &end);
    }
    TORCH_CHECK(
        !overflow && (empty ? offset <= capacity : end < capacity),
        name,
        ": a view of size ",
        c10::IntArrayRef(size),
        ", stride ",
        c10::IntArrayRef(stride),
        " at offset ",
        offset,
        " does not fit its storage of ",
        capacity,
        " elements");
    at::Tensor tensor = at::empty({0}, source.options());
    tensor.set_(source.storage(), offset, size, stride);
    if (v2) {
      set_requires_grad(tensor, args[4]);
    }
    return tensor;
  }

  static void set_requires_grad(at::Tensor& tensor, const c10::IValue& flag) {
    if (flag.isBool() && flag.toBool() &&
        (c10::isFloatingType(tensor.scalar_type()) || c10::isComplexType(tensor.scalar_type()))) {
      tensor.set_requires_grad(true);
    }
  }

  /// The torch callables a .pth pickle uses; nullopt leaves the rest to the pickle reader.
  std::optional<c10::IValue> call(
      const std::string& name, const std::vector<c10::IValue>& args, int depth) {
    TORCH_CHECK(depth < kMaxCallDepth, name, ": rebuilding calls nested too deeply");
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      return c10::IValue(rebuild_tensor(name, args));
    }
    if (name == "torch._utils._rebuild_parameter" ||
        name == "torch._utils._rebuild_parameter_with_state") {
      TORCH_CHECK(
          args.size() >= 2 && args[0].isTensor(), name, ": expected (data, requires_grad, ...)");
      at::Tensor tensor = args[0].toTensor();
      set_requires_grad(tensor, args[1]);
      return c10::IValue(tensor);
    }
    if (name == "torch._tensor._rebuild_from_type_v2" ||
        name == "torch._tensor._rebuild_from_type") {
      // (func, new_type, args, state): a tensor subclass; the subclass is dropped.
      TORCH_CHECK(
          args.size() >= 3 && args[2].isTuple(), name, ": expected (func, type, args, ...)");
      const std::string func = detail::pickle_global_name(args[0]);
      TORCH_CHECK(
          !func.empty(), name, ": expected a function, got ", describe_pickle_value(args[0]));
      return call(func, tuple_items(args[2]), depth + 1);
    }
    if (name == "torch.jit._pickle.restore_type_tag") {
      // (value, "Dict[str, Any]"): LibTorch's pickle_save tags dicts and lists with
      // their TorchScript element types; the value is all a reader needs.
      TORCH_CHECK(!args.empty(), name, ": expected (value, type)");
      return args[0];
    }
    if (name.rfind("torch.jit._pickle.build_", 0) == 0 && name.size() > 28 &&
        name.compare(name.size() - 4, 4, "list") == 0) {
      // build_intlist, build_tensorlist, ...: typed lists of TorchScript archives.
      TORCH_CHECK(
          args.size() == 1 && args[0].isList(),
          name,
          ": expected a list, got ",
          args.empty() ? "nothing" : describe_pickle_value(args[0]));
      return args[0];
    }
    if (name == "torch.device") {
      TORCH_CHECK(!args.empty() && args[0].isString(), name, ": expected a device string");
      std::string device = args[0].toStringRef();
      if (args.size() > 1 && args[1].isInt()) {
        device += ":" + std::to_string(args[1].toInt());
      }
      return c10::IValue(device);
    }
    if (name == "torch.Size") {
      return args.empty() ? c10::IValue(c10::ivalue::Tuple::create(std::vector<c10::IValue>{}))
                          : args[0];
    }
    return std::nullopt;
  }

  detail::ZipRecords& records_;
  std::string prefix_;
  bool swap_bytes_ = false;
  std::unordered_map<std::string, c10::Storage> storages_;
};

std::string key_name(const c10::IValue& key) {
  return key.isString() ? key.toStringRef() : "<" + describe_pickle_value(key) + ">";
}

std::vector<std::pair<std::string, at::Tensor>> to_state_dict(
    const c10::IValue& value, const std::string& path, const std::string& what) {
  const std::string cls = pth_object_class(value);
  TORCH_CHECK(
      cls.empty(),
      path,
      ": ",
      what,
      " is an object of class '",
      cls,
      "', not a state dict (save its state_dict() instead)");
  TORCH_CHECK(
      value.isGenericDict(),
      path,
      ": ",
      what,
      " is not a dict of tensors but ",
      describe_pickle_value(value));
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : value.toGenericDict()) {
    TORCH_CHECK(
        item.key().isString(),
        path,
        ": ",
        what,
        " has a key that is not a string: ",
        describe_pickle_value(item.key()));
    TORCH_CHECK(
        item.value().isTensor(),
        path,
        ": ",
        what,
        ": the value of '",
        item.key().toStringRef(),
        "' is not a tensor but ",
        describe_pickle_value(item.value()));
    out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

}  // namespace

namespace detail {

c10::IValue load_pth_archive(ZipRecords& records) {
  return PthArchive(records).load();
}

}  // namespace detail

c10::IValue load_pth_bytes(std::string_view bytes) {
  check_file_header(bytes);
  detail::ZipRecords records(bytes.data(), bytes.size());
  return detail::load_pth_archive(records);
}

c10::IValue load_pth(const std::string& path) {
  try {
    return load_pth_bytes(read_file_bytes(path, ".pth file"));
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "cannot load '", path, "': ", e.what_without_backtrace());
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "cannot load '", path, "': ", e.what());
  }
}

std::vector<std::pair<std::string, at::Tensor>> load_pth_state_dict(
    const std::string& path, const std::string& entry) {
  return detail::state_dict_of(load_pth(path), path, entry);
}

std::vector<std::pair<std::string, at::Tensor>> detail::state_dict_of(
    const c10::IValue& root, const std::string& path, const std::string& entry) {
  const std::string cls = pth_object_class(root);
  TORCH_CHECK(
      cls.empty(),
      path,
      ": holds a pickled object of class '",
      cls,
      "', not a dict (save its state_dict() instead)");
  TORCH_CHECK(
      root.isGenericDict(),
      path,
      ": expected a dict at the top level, got ",
      describe_pickle_value(root));
  const auto top = root.toGenericDict();
  std::vector<std::string> keys;
  bool all_tensors = true;
  for (const auto& item : top) {
    keys.push_back(key_name(item.key()));
    all_tensors = all_tensors && item.value().isTensor();
  }
  const auto lookup = [&](const std::string& key) -> std::optional<c10::IValue> {
    const auto it = top.find(c10::IValue(key));
    return it == top.end() ? std::nullopt : std::optional<c10::IValue>(it->value());
  };
  if (!entry.empty()) {
    const auto value = lookup(entry);
    TORCH_CHECK(
        value.has_value(),
        path,
        ": no top-level entry '",
        entry,
        "'",
        did_you_mean(entry, keys),
        "; top-level keys: ",
        join(keys, ", "));
    return to_state_dict(*value, path, "entry '" + entry + "'");
  }
  if (all_tensors) {
    return to_state_dict(root, path, "the top-level dict");
  }
  for (const char* name : {"state_dict", "model"}) {
    if (const auto value = lookup(name)) {
      return to_state_dict(*value, path, std::string("entry '") + name + "'");
    }
  }
  C10_THROW_ERROR(
      Error,
      c10::str(
          path,
          ": the top-level dict is not a state dict (not all values are tensors) and "
          "has no 'state_dict' or 'model' entry; name the entry to read; top-level keys: ",
          join(keys, ", ")));
}

std::string pth_object_class(const c10::IValue& value) {
  return detail::pickle_object_class(value);
}

}  // namespace ewgs
