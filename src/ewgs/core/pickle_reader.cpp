// The pickle interpreter behind the .pth reader (pickle_reader.h): one opcode
// at a time, every read bounds-checked, so corrupt input is an error, never a crash.
#include "pickle_reader.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ewgs::detail {
namespace {

constexpr const char* kGlobalKey = "__global__";
constexpr const char* kClassKey = "__class__";

/// Deepest container nesting accepted. Python's recursive pickler cannot write deeper
/// files, and deeper values would overflow the stack when destroyed.
constexpr int kMaxNesting = 1000;

c10::impl::GenericDict new_dict() {
  return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
}

c10::impl::GenericList new_list() {
  return c10::impl::GenericList(c10::AnyType::get());
}

c10::IValue make_tuple(std::vector<c10::IValue> items) {
  return c10::ivalue::Tuple::create(std::move(items));
}

/// The string under `key` of a one-purpose marker dict, or "".
std::string marker(const c10::IValue& value, const char* key) {
  if (!value.isGenericDict()) {
    return "";
  }
  const auto dict = value.toGenericDict();
  const auto it = dict.find(c10::IValue(key));
  if (it == dict.end() || !it->value().isString()) {
    return "";
  }
  return it->value().toStringRef();
}

std::string hex_byte(uint8_t byte) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[byte >> 4] + digits[byte & 15];
}

/// Names of the opcodes this reader rejects, for the error message.
const char* unsupported_opcode_name(uint8_t op) {
  switch (op) {
    case 'I':
      return "INT";
    case 'L':
      return "LONG";
    case 'F':
      return "FLOAT";
    case 'S':
      return "STRING";
    case 'V':
      return "UNICODE";
    case 'p':
      return "PUT";
    case 'g':
      return "GET";
    case 'P':
      return "PERSID";
    case 'i':
      return "INST";
    case 'o':
      return "OBJ";
    case 0x82:
      return "EXT1";
    case 0x83:
      return "EXT2";
    case 0x84:
      return "EXT4";
    case 0x97:
      return "NEXT_BUFFER";
    case 0x98:
      return "READONLY_BUFFER";
    default:
      return "unknown";
  }
}

/// Python 2 module names that protocol-2 pickles use for builtins.
std::string python3_module(const std::string& module) {
  if (module == "__builtin__") {
    return "builtins";
  }
  if (module == "copy_reg") {
    return "copyreg";
  }
  return module;
}

/// Bytes of a str encoded as latin-1 (how protocol 2 pickles Python 3 bytes).
std::string latin1_bytes(const std::string& utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<uint8_t>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    TORCH_CHECK(
        (c & 0xE0) == 0xC0 && i + 1 < utf8.size(),
        "_codecs.encode: expected a latin-1 string, got a code point above 255");
    const auto next = static_cast<uint8_t>(utf8[++i]);
    const unsigned code = ((c & 0x1Fu) << 6) | (next & 0x3Fu);
    TORCH_CHECK(
        (next & 0xC0) == 0x80 && code < 256,
        "_codecs.encode: expected a latin-1 string, got a code point above 255");
    out.push_back(static_cast<char>(code));
  }
  return out;
}

class Unpickler {
 public:
  Unpickler(const char* data, size_t size, const PickleHooks& hooks, const std::string& context)
      : data_(reinterpret_cast<const uint8_t*>(data)),
        size_(data == nullptr ? 0 : size),
        hooks_(hooks),
        context_(context) {}

  c10::IValue run();

 private:
  std::string where() const {
    return context_ + " offset " + std::to_string(op_pos_) + " (opcode " + hex_byte(op_) + "): ";
  }

  void need(uint64_t n) const {
    TORCH_CHECK(
        n <= size_ - pos_,
        where(),
        "truncated pickle: needs ",
        n,
        " more bytes, only ",
        size_ - pos_,
        " left");
  }

  uint64_t read_uint(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    }
    pos_ += n;
    return v;
  }

  std::string read_bytes(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  std::string read_line() {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    TORCH_CHECK(nl != nullptr, where(), "truncated pickle: missing end of line");
    const size_t n = static_cast<size_t>(static_cast<const uint8_t*>(nl) - (data_ + pos_));
    std::string s = read_bytes(n);
    ++pos_;
    return s;
  }

  int64_t read_long(uint64_t n) {
    TORCH_CHECK(n <= 8, where(), "integer of ", n, " bytes does not fit in int64");
    if (n == 0) {
      return 0;
    }
    uint64_t v = read_uint(static_cast<size_t>(n));
    if (n < 8 && (v >> (8 * n - 1)) != 0) {
      v |= ~uint64_t{0} << (8 * n);
    }
    return static_cast<int64_t>(v);
  }

  size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }

  c10::IValue pop() {
    TORCH_CHECK(stack_.size() > fence(), where(), "pickle stack underflow");
    c10::IValue v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }

  c10::IValue& top() {
    TORCH_CHECK(stack_.size() > fence(), where(), "pickle stack underflow");
    return stack_.back();
  }

  std::vector<c10::IValue> pop_mark() {
    TORCH_CHECK(!marks_.empty(), where(), "no MARK on the pickle stack");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<c10::IValue> items(
        std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
        std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }

  std::vector<c10::IValue> pop_tuple_items() {
    const c10::IValue args = pop();
    TORCH_CHECK(
        args.isTuple(), where(), "expected an argument tuple, got ", describe_pickle_value(args));
    return tuple_items(args);
  }

  std::string pop_string() {
    const c10::IValue v = pop();
    TORCH_CHECK(v.isString(), where(), "expected a string, got ", describe_pickle_value(v));
    return v.toStringRef();
  }

  void memo_put(uint64_t index) { memo_[index] = top(); }

  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    TORCH_CHECK(it != memo_.end(), where(), "memo entry ", index, " was never stored");
    stack_.push_back(it->second);
  }

  static bool is_container(const c10::IValue& v) {
    return v.isList() || v.isGenericDict() || v.isTuple();
  }

  /// Nesting depth of a value made here: 0 for scalars and tensors, 1 for an empty container.
  int depth_of(const c10::IValue& v) const {
    if (!is_container(v)) {
      return 0;
    }
    const auto it = depth_.find(v.internalToPointer());
    return it == depth_.end() ? 1 : it->second;
  }

  void record_parent(const c10::IValue& child, const c10::IValue& parent) {
    if (is_container(child)) {
      parents_[child.internalToPointer()].push_back(parent.internalToPointer());
    }
  }

  /// Whether `inner` is `outer` or sits, at any depth, inside it: walks up from `inner`
  /// through the recorded parents. Placing `outer` into `inner` would then make a cycle,
  /// which reference-counted values never free.
  bool contains(const c10::IValue& outer, const c10::IValue& inner) const {
    if (!is_container(outer)) {
      return false;
    }
    const void* target = outer.internalToPointer();
    std::vector<const void*> pending{inner.internalToPointer()};
    std::unordered_set<const void*> seen;
    while (!pending.empty()) {
      const void* node = pending.back();
      pending.pop_back();
      if (node == target) {
        return true;
      }
      if (!seen.insert(node).second) {
        continue;
      }
      const auto it = parents_.find(node);
      if (it != parents_.end()) {
        pending.insert(pending.end(), it->second.begin(), it->second.end());
      }
    }
    return false;
  }

  /// Records that `child` now sits inside `parent`, rejecting too deep nesting. Depths
  /// are recorded as containers fill, so a later change to a child is not seen.
  void nest(const c10::IValue& parent, const c10::IValue& child) {
    TORCH_CHECK(
        !contains(child, parent),
        where(),
        "a container placed inside itself; pickles with reference cycles are not accepted");
    record_parent(child, parent);
    const int depth = depth_of(child) + 1;
    TORCH_CHECK(
        depth <= kMaxNesting, where(), "values nested deeper than ", kMaxNesting, " levels");
    if (depth > depth_of(parent)) {
      depth_[parent.internalToPointer()] = depth;
    }
  }

  c10::IValue fresh(c10::IValue container) {
    depth_[container.internalToPointer()] = 1;
    made_.push_back(container);
    return container;
  }

  c10::IValue tuple(std::vector<c10::IValue> items) {
    int depth = 1;
    for (const auto& item : items) {
      depth = std::max(depth, depth_of(item) + 1);
    }
    TORCH_CHECK(
        depth <= kMaxNesting, where(), "values nested deeper than ", kMaxNesting, " levels");
    c10::IValue result = make_tuple(items);
    for (const auto& item : items) {
      record_parent(item, result);
    }
    depth_[result.internalToPointer()] = depth;
    made_.push_back(result);
    return result;
  }

  void add(const c10::IValue& list, c10::IValue item) {
    nest(list, item);
    list.toList().push_back(std::move(item));
  }

  void put(const c10::IValue& dict, c10::IValue key, c10::IValue value) {
    nest(dict, key);
    nest(dict, value);
    try {
      dict.toGenericDict().insert_or_assign(key, std::move(value));
    } catch (const c10::Error& e) {
      TORCH_CHECK(
          false,
          where(),
          "cannot use ",
          describe_pickle_value(key),
          " as a dict key: ",
          e.what_without_backtrace());
    } catch (const std::exception& e) {
      TORCH_CHECK(
          false, where(), "cannot use ", describe_pickle_value(key), " as a dict key: ", e.what());
    }
  }

  void push_global(const std::string& module, const std::string& name) {
    TORCH_CHECK(!module.empty() && !name.empty(), where(), "empty GLOBAL name");
    const c10::IValue dict = fresh(new_dict());
    put(dict, c10::IValue(kGlobalKey), c10::IValue(python3_module(module) + "." + name));
    stack_.push_back(dict);
  }

  c10::IValue new_object(const std::string& cls, const std::vector<c10::IValue>& args) {
    const c10::IValue object = fresh(new_dict());
    put(object, c10::IValue(kClassKey), c10::IValue(cls));
    if (!args.empty()) {
      put(object, c10::IValue("__args__"), tuple(args));
    }
    objects_.insert(object.internalToPointer());
    return object;
  }

  bool is_object(const c10::IValue& v) const {
    return v.isGenericDict() && objects_.count(v.internalToPointer()) != 0;
  }

  c10::IValue call(const c10::IValue& callable, const std::vector<c10::IValue>& args);
  void build(const c10::IValue& object, const c10::IValue& state);
  void merge_state(const c10::IValue& object, const c10::IValue& state);
  void append(const c10::IValue& target, std::vector<c10::IValue> items);
  void set_items(const c10::IValue& target, std::vector<c10::IValue> items);
  void step(uint8_t op);

  const uint8_t* data_;
  size_t size_;
  const PickleHooks& hooks_;
  const std::string& context_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  bool stopped_ = false;
  std::vector<c10::IValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, c10::IValue> memo_;
  /// Opaque objects created here: BUILD merges state into these, and only these.
  std::unordered_set<const void*> objects_;
  /// Nesting depth of the containers made here, by address.
  std::unordered_map<const void*, int> depth_;
  /// Every container made here, held so that no address in depth_ or parents_ is reused.
  std::vector<c10::IValue> made_;
  /// The containers each container made here was placed into, by address.
  std::unordered_map<const void*, std::vector<const void*>> parents_;
};

c10::IValue Unpickler::call(const c10::IValue& callable, const std::vector<c10::IValue>& args) {
  const std::string name = pickle_global_name(callable);
  TORCH_CHECK(
      !name.empty(),
      where(),
      "expected a class or function to call, got ",
      describe_pickle_value(callable));
  if (hooks_.call) {
    if (auto result = hooks_.call(name, args)) {
      return *result;
    }
  }
  if (name == "collections.OrderedDict" || name == "builtins.dict" ||
      name == "collections.defaultdict") {
    const c10::IValue dict = fresh(new_dict());
    if (name != "collections.defaultdict" && !args.empty() && args[0].isList()) {
      for (const c10::IValue& pair : args[0].toListRef()) {
        TORCH_CHECK(
            pair.isTuple() && pair.toTupleRef().elements().size() == 2,
            where(),
            name,
            " expects (key, value) pairs");
        set_items(dict, tuple_items(pair));
      }
    }
    return dict;
  }
  if (name == "builtins.set" || name == "builtins.frozenset" || name == "builtins.list") {
    const c10::IValue list = fresh(new_list());
    if (!args.empty() && (args[0].isList() || args[0].isTuple())) {
      append(list, args[0].isList() ? args[0].toList().vec() : tuple_items(args[0]));
    }
    return list;
  }
  if (name == "builtins.slice") {
    return tuple(args);
  }
  if (name == "_codecs.encode") {
    TORCH_CHECK(!args.empty() && args[0].isString(), where(), "_codecs.encode expects a str");
    const std::string encoding =
        args.size() > 1 && args[1].isString() ? args[1].toStringRef() : std::string("latin1");
    if (encoding == "latin1" || encoding == "latin-1") {
      return c10::IValue(latin1_bytes(args[0].toStringRef()));
    }
    return args[0];
  }
  if (name == "copyreg._reconstructor" && !args.empty()) {
    const std::string cls = pickle_global_name(args[0]);
    TORCH_CHECK(!cls.empty(), where(), "copyreg._reconstructor expects a class");
    c10::IValue object = new_object(cls, {});
    if (args.size() > 2) {
      build(object, args[2]);
    }
    return object;
  }
  return new_object(name, args);
}

void Unpickler::merge_state(const c10::IValue& object, const c10::IValue& state) {
  if (state.isNone()) {
    return;
  }
  if (state.isGenericDict()) {
    for (const auto& item : state.toGenericDict()) {
      if (!(item.key().isString() && item.key().toStringRef() == kClassKey)) {
        put(object, item.key(), item.value());
      }
    }
    return;
  }
  if (state.isTuple() && state.toTupleRef().elements().size() == 2) {
    // (instance __dict__, __slots__ values).
    const auto parts = tuple_items(state);
    if ((parts[0].isNone() || parts[0].isGenericDict()) &&
        (parts[1].isNone() || parts[1].isGenericDict())) {
      merge_state(object, parts[0]);
      merge_state(object, parts[1]);
      return;
    }
  }
  put(object, c10::IValue("__state__"), state);
}

void Unpickler::build(const c10::IValue& object, const c10::IValue& state) {
  // BUILD on anything but an opaque object (an OrderedDict's _metadata, a tensor's
  // backward hooks) carries nothing a caller of this reader uses: accept and ignore.
  if (is_object(object)) {
    merge_state(object, state);
  }
}

void Unpickler::append(const c10::IValue& target, std::vector<c10::IValue> items) {
  if (is_object(target)) {
    // A list subclass: its items go under "__items__".
    const auto dict = target.toGenericDict();
    const auto it = dict.find(c10::IValue("__items__"));
    if (it == dict.end() || !it->value().isList()) {
      put(target, c10::IValue("__items__"), fresh(new_list()));
    }
    append(dict.at(c10::IValue("__items__")), std::move(items));
    return;
  }
  TORCH_CHECK(target.isList(), where(), "cannot append to ", describe_pickle_value(target));
  for (auto& item : items) {
    add(target, std::move(item));
  }
}

void Unpickler::set_items(const c10::IValue& target, std::vector<c10::IValue> items) {
  TORCH_CHECK(
      target.isGenericDict(), where(), "cannot set items of ", describe_pickle_value(target));
  TORCH_CHECK(items.size() % 2 == 0, where(), "odd number of items for a dict: ", items.size());
  for (size_t i = 0; i < items.size(); i += 2) {
    const c10::IValue& key = items[i];
    TORCH_CHECK(
        key.isNone() || key.isBool() || key.isInt() || key.isDouble() || key.isString() ||
            key.isTensor() || key.isTuple(),
        where(),
        "unsupported dict key: ",
        describe_pickle_value(key));
    put(target, key, std::move(items[i + 1]));
  }
}

void Unpickler::step(uint8_t op) {
  switch (op) {
    case 0x80:  // PROTO
      TORCH_CHECK(read_uint(1) <= 5, where(), "unsupported pickle protocol");
      break;
    case 0x95:  // FRAME: frames only group the opcodes that follow.
      read_uint(8);
      break;
    case '.':  // STOP
      stopped_ = true;
      break;
    case '(':  // MARK
      marks_.push_back(stack_.size());
      break;
    case '0':  // POP
      if (!marks_.empty() && stack_.size() == marks_.back()) {
        marks_.pop_back();
      } else {
        pop();
      }
      break;
    case '1':  // POP_MARK
      pop_mark();
      break;
    case '2':  // DUP
      stack_.push_back(top());
      break;
    case 'N':  // NONE
      stack_.emplace_back();
      break;
    case 0x88:  // NEWTRUE
      stack_.emplace_back(true);
      break;
    case 0x89:  // NEWFALSE
      stack_.emplace_back(false);
      break;
    case 'J':  // BININT
      stack_.emplace_back(static_cast<int64_t>(static_cast<int32_t>(read_uint(4))));
      break;
    case 'K':  // BININT1
      stack_.emplace_back(static_cast<int64_t>(read_uint(1)));
      break;
    case 'M':  // BININT2
      stack_.emplace_back(static_cast<int64_t>(read_uint(2)));
      break;
    case 0x8a:  // LONG1
      stack_.emplace_back(read_long(read_uint(1)));
      break;
    case 0x8b: {  // LONG4
      const auto n = static_cast<int32_t>(read_uint(4));
      TORCH_CHECK(n >= 0, where(), "negative LONG4 size");
      stack_.emplace_back(read_long(static_cast<uint64_t>(n)));
      break;
    }
    case 'G': {  // BINFLOAT: big-endian IEEE 754 double.
      need(8);
      uint64_t bits = 0;
      for (size_t i = 0; i < 8; ++i) {
        bits = (bits << 8) | data_[pos_ + i];
      }
      pos_ += 8;
      double v = 0;
      std::memcpy(&v, &bits, sizeof v);
      stack_.emplace_back(v);
      break;
    }
    case 'X':  // BINUNICODE
    case 'B':  // BINBYTES
      stack_.emplace_back(read_bytes(read_uint(4)));
      break;
    case 0x8c:  // SHORT_BINUNICODE
    case 'U':   // SHORT_BINSTRING
    case 'C':   // SHORT_BINBYTES
      stack_.emplace_back(read_bytes(read_uint(1)));
      break;
    case 0x8d:  // BINUNICODE8
    case 0x8e:  // BINBYTES8
    case 0x96:  // BYTEARRAY8
      stack_.emplace_back(read_bytes(read_uint(8)));
      break;
    case 'T': {  // BINSTRING
      const auto n = static_cast<int32_t>(read_uint(4));
      TORCH_CHECK(n >= 0, where(), "negative BINSTRING size");
      stack_.emplace_back(read_bytes(static_cast<uint64_t>(n)));
      break;
    }
    case ')':  // EMPTY_TUPLE
      stack_.push_back(tuple({}));
      break;
    case 0x85:    // TUPLE1
    case 0x86:    // TUPLE2
    case 0x87: {  // TUPLE3
      std::vector<c10::IValue> items(static_cast<size_t>(op - 0x84));
      for (size_t i = items.size(); i-- > 0;) {
        items[i] = pop();
      }
      stack_.push_back(tuple(std::move(items)));
      break;
    }
    case 't':  // TUPLE
      stack_.push_back(tuple(pop_mark()));
      break;
    case ']':   // EMPTY_LIST
    case 0x8f:  // EMPTY_SET
      stack_.push_back(fresh(new_list()));
      break;
    case 'l':     // LIST
    case 0x91: {  // FROZENSET
      auto items = pop_mark();
      stack_.push_back(fresh(new_list()));
      append(stack_.back(), std::move(items));
      break;
    }
    case 'a': {  // APPEND
      c10::IValue item = pop();
      append(top(), {std::move(item)});
      break;
    }
    case 'e':     // APPENDS
    case 0x90: {  // ADDITEMS
      auto items = pop_mark();
      append(top(), std::move(items));
      break;
    }
    case '}':  // EMPTY_DICT
      stack_.push_back(fresh(new_dict()));
      break;
    case 'd': {  // DICT
      auto items = pop_mark();
      stack_.push_back(fresh(new_dict()));
      set_items(stack_.back(), std::move(items));
      break;
    }
    case 's': {  // SETITEM
      c10::IValue value = pop();
      c10::IValue key = pop();
      set_items(top(), {std::move(key), std::move(value)});
      break;
    }
    case 'u': {  // SETITEMS
      auto items = pop_mark();
      set_items(top(), std::move(items));
      break;
    }
    case 'q':  // BINPUT
      memo_put(read_uint(1));
      break;
    case 'r':  // LONG_BINPUT
      memo_put(read_uint(4));
      break;
    case 0x94:  // MEMOIZE
      memo_put(memo_.size());
      break;
    case 'h':  // BINGET
      memo_get(read_uint(1));
      break;
    case 'j':  // LONG_BINGET
      memo_get(read_uint(4));
      break;
    case 'c': {  // GLOBAL
      const std::string module = read_line();
      const std::string name = read_line();
      push_global(module, name);
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      const std::string name = pop_string();
      const std::string module = pop_string();
      push_global(module, name);
      break;
    }
    case 'R': {  // REDUCE
      const auto args = pop_tuple_items();
      const c10::IValue callable = pop();
      stack_.push_back(call(callable, args));
      break;
    }
    case 0x81: {  // NEWOBJ
      const auto args = pop_tuple_items();
      const c10::IValue cls = pop();
      stack_.push_back(call(cls, args));
      break;
    }
    case 0x92: {  // NEWOBJ_EX: keyword arguments are dropped.
      pop();
      const auto args = pop_tuple_items();
      const c10::IValue cls = pop();
      stack_.push_back(call(cls, args));
      break;
    }
    case 'b': {  // BUILD
      const c10::IValue state = pop();
      build(top(), state);
      break;
    }
    case 'Q': {  // BINPERSID
      const c10::IValue pid = pop();
      TORCH_CHECK(
          static_cast<bool>(hooks_.persistent_load), where(), "persistent id without a loader");
      stack_.push_back(hooks_.persistent_load(pid));
      break;
    }
    default: {
      const bool printable = op >= 0x20 && op < 0x7f;
      TORCH_CHECK(
          false,
          context_,
          ": unsupported pickle opcode ",
          hex_byte(op),
          printable ? std::string(" '") + static_cast<char>(op) + "'" : std::string(),
          " (",
          unsupported_opcode_name(op),
          ") at offset ",
          op_pos_);
    }
  }
}

c10::IValue Unpickler::run() {
  while (!stopped_) {
    TORCH_CHECK(
        pos_ < size_,
        context_,
        ": truncated pickle: ended at offset ",
        pos_,
        " without a STOP opcode");
    op_pos_ = pos_;
    op_ = data_[pos_++];
    step(op_);
  }
  TORCH_CHECK(!stack_.empty(), where(), "STOP with an empty pickle stack");
  return stack_.back();
}

}  // namespace

std::vector<c10::IValue> tuple_items(const c10::IValue& value) {
  const auto& elements = value.toTupleRef().elements();
  return std::vector<c10::IValue>(elements.begin(), elements.end());
}

c10::IValue unpickle(
    const char* data, size_t size, const PickleHooks& hooks, const std::string& context) {
  Unpickler unpickler(data, size, hooks, context);
  return unpickler.run();
}

std::string pickle_global_name(const c10::IValue& value) {
  return marker(value, kGlobalKey);
}

std::string pickle_object_class(const c10::IValue& value) {
  return marker(value, kClassKey);
}

std::string describe_pickle_value(const c10::IValue& value) {
  if (value.isNone()) {
    return "None";
  }
  if (value.isBool()) {
    return "bool";
  }
  if (value.isInt()) {
    return "int " + std::to_string(value.toInt());
  }
  if (value.isDouble()) {
    return "float";
  }
  if (value.isString()) {
    return "string '" + value.toStringRef().substr(0, 40) + "'";
  }
  if (value.isTensor()) {
    return "tensor";
  }
  if (value.isList()) {
    return "list";
  }
  if (value.isTuple()) {
    return "tuple";
  }
  if (value.isGenericDict()) {
    const std::string cls = pickle_object_class(value);
    if (!cls.empty()) {
      return "object of class '" + cls + "'";
    }
    const std::string global = pickle_global_name(value);
    return global.empty() ? std::string("dict") : "reference to '" + global + "'";
  }
  return value.tagKind();
}

}  // namespace ewgs::detail
