// Typed reads of checkpoint dicts (checkpoint_values.h).
#include "checkpoint_values.h"

#include <c10/util/Exception.h>

#include "ewgs/core/pickle_reader.h"

namespace ewgs::train::detail {

namespace {

c10::impl::GenericDict string_keyed_dict(const c10::IValue& value, const std::string& where) {
  TORCH_CHECK(
      value.isGenericDict(),
      where,
      " is not a dict but ",
      ewgs::detail::describe_pickle_value(value));
  auto dict = value.toGenericDict();
  for (const auto& entry : dict) {
    TORCH_CHECK(
        entry.key().isString(),
        where,
        " has a key that is not a string: ",
        ewgs::detail::describe_pickle_value(entry.key()));
  }
  return dict;
}

[[noreturn]] void wrong_type(const std::string& name, const char* expected, const c10::IValue& v) {
  C10_THROW_ERROR(
      Error, c10::str(name, " is not ", expected, " but ", ewgs::detail::describe_pickle_value(v)));
}

}  // namespace

c10::impl::GenericDict new_checkpoint_dict() {
  return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
}

CheckpointDict::CheckpointDict(const c10::IValue& value, std::string where)
    : dict_(string_keyed_dict(value, where)), where_(std::move(where)) {}

std::string CheckpointDict::name(const std::string& key) const {
  return where_ + " '" + key + "'";
}

bool CheckpointDict::has(const std::string& key) const {
  return dict_.contains(key);
}

const c10::IValue& CheckpointDict::at(const std::string& key) const {
  const auto found = dict_.find(key);
  TORCH_CHECK(found != dict_.end(), where_, " has no '", key, "'");
  return found->value();
}

std::string CheckpointDict::text(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isString()) {
    wrong_type(name(key), "a string", v);
  }
  return v.toStringRef();
}

int64_t CheckpointDict::integer(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isInt()) {
    wrong_type(name(key), "an integer", v);
  }
  return v.toInt();
}

double CheckpointDict::real(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isDouble() && !v.isInt()) {
    wrong_type(name(key), "a number", v);
  }
  return v.isDouble() ? v.toDouble() : static_cast<double>(v.toInt());
}

bool CheckpointDict::flag(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isBool()) {
    wrong_type(name(key), "true or false", v);
  }
  return v.toBool();
}

at::Tensor CheckpointDict::tensor(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isTensor()) {
    wrong_type(name(key), "a tensor", v);
  }
  return v.toTensor();
}

std::vector<c10::IValue> CheckpointDict::list(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isList()) {
    wrong_type(name(key), "a list", v);
  }
  return v.toListRef().vec();
}

CheckpointDict CheckpointDict::dict(const std::string& key) const {
  return CheckpointDict(at(key), name(key));
}

}  // namespace ewgs::train::detail
