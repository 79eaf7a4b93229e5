// A declarative table of typed "section.key" settings of a plain struct: applies TOML
// files and --section.key=value overrides to an object of it, rejects unknown keys with
// a suggestion and invalid values naming the key, and prints the resolved config.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace ewgs::train {

/// The keys of a ConfigSchema and the rules that parse, check and print them,
/// independent of the struct they describe: each key reaches its field in an
/// object through an accessor. Use ConfigSchema<Object>, which types the objects.
class ConfigKeys {
 public:
  enum class Type { kInt, kDouble, kBool, kString };
  /// A value of a key, of its type.
  using Value = std::variant<int64_t, double, bool, std::string>;

  struct Key {
    std::string name;
    Type type;
    std::string description;
    /// The key's field in an object of the described struct.
    std::function<void*(void* object)> field;
    /// Checks of a new value, all applied in order: each returns an error text or "".
    std::vector<std::function<std::string(const Value&)>> checks;
    /// Allowed strings (empty: any).
    std::vector<std::string> choices;
    /// Strings: "${EWGS_DATA_DIR}" in a new value becomes the data folder.
    bool expands_data_dir = false;

    /// The key's value in `object` as TOML text.
    std::string value_text(const void* object) const;
  };

  /// Fluent constraints on the key just added. They compose: a value must pass
  /// every one. A constraint that does not fit the key's type is an error.
  class KeyBuilder {
   public:
    explicit KeyBuilder(Key& key) : key_(key) {}
    /// Integers or doubles: value >= minimum.
    KeyBuilder& at_least(double minimum);
    /// Integers or doubles: value in [lo, hi].
    KeyBuilder& between(double lo, double hi);
    /// Strings: one of `choices` (a second call narrows the set).
    KeyBuilder& one_of(std::vector<std::string> choices);
    /// Strings naming files: "${EWGS_DATA_DIR}" is replaced by the data folder
    /// (ewgs/core/data_dir.h) when the value is set, and any other "${...}" is an error.
    KeyBuilder& expands_data_dir();

   private:
    Key& key_;
  };

  const std::vector<Key>& keys() const { return keys_; }

 protected:
  KeyBuilder add_key(
      const std::string& name,
      Type type,
      std::function<void*(void*)> field,
      const std::string& description);

  void apply_toml(void* object, const toml::table& table, const std::string& source) const;
  void apply_file(void* object, const std::string& path) const;
  void apply_text(void* object, const std::string& text, const std::string& source) const;
  void apply_override(void* object, const std::string& assignment) const;
  std::string to_toml(const void* object) const;
  std::string describe(const void* object) const;
  std::string value_text(const void* object, const std::string& name) const;
  void check_values(const void* object, const std::string& source) const;

 private:
  void apply_file(void* object, const std::string& path, int depth) const;
  const Key* find(const std::string& name) const;
  /// Parses `value` by the key's type and checks it; only a value that passes
  /// every check is stored. A string is taken as it is (apply_override has
  /// already trimmed and unquoted an override).
  void set_from_text(
      void* object, const Key& key, const std::string& value, const std::string& source) const;
  std::vector<std::string> names() const;

  std::vector<Key> keys_;
};

/// The typed settings of the struct `Object`, each bound to one of its members.
/// A schema is a description, built once; the objects it applies to are plain
/// values that copy like any struct.
///
/// Example:
///   struct Settings { int64_t epochs = 10; };
///   ConfigSchema<Settings> schema;
///   schema.add("train.epochs", &Settings::epochs, "training epochs").at_least(1);
///   Settings s;
///   schema.apply_override(s, "train.epochs=3");
template <class Object>
class ConfigSchema : public ConfigKeys {
 public:
  /// A key bound to `member`, an int64_t, double, bool or std::string of Object.
  template <class T>
  KeyBuilder add(const std::string& name, T Object::*member, const std::string& description) {
    return add_key(
        name,
        type_of<T>(),
        [member](void* object) -> void* { return &(static_cast<Object*>(object)->*member); },
        description);
  }

  /// Parses and applies a TOML file. A top-level `base = "other.toml"`
  /// (relative to this file) is applied first, so recipes can share a base.
  void apply_file(Object& object, const std::string& path) const {
    ConfigKeys::apply_file(&object, path);
  }
  /// Parses and applies TOML text; `source` names it in errors.
  void apply_text(Object& object, const std::string& text, const std::string& source) const {
    ConfigKeys::apply_text(&object, text, source);
  }
  /// Applies one "section.key=value" override (value parsed by the key's type).
  void apply_override(Object& object, const std::string& assignment) const {
    ConfigKeys::apply_override(&object, assignment);
  }
  /// The object's configuration as TOML text (sections in order of keys).
  std::string to_toml(const Object& object) const { return ConfigKeys::to_toml(&object); }
  /// One line per key: name, type, the object's value, description.
  std::string describe(const Object& object) const { return ConfigKeys::describe(&object); }
  /// Errors unless every field of `object` holds a value its key accepts (for
  /// objects filled in code); `source` names the object in errors.
  void check_values(const Object& object, const std::string& source) const {
    ConfigKeys::check_values(&object, source);
  }
  /// The value of key `name` in `object` as text (error for unknown names).
  std::string value_text(const Object& object, const std::string& name) const {
    return ConfigKeys::value_text(&object, name);
  }

 private:
  template <class T>
  static constexpr Type type_of() {
    static_assert(
        std::is_same_v<T, int64_t> || std::is_same_v<T, double> || std::is_same_v<T, bool> ||
            std::is_same_v<T, std::string>,
        "config fields are int64_t, double, bool or std::string");
    if constexpr (std::is_same_v<T, int64_t>) {
      return Type::kInt;
    } else if constexpr (std::is_same_v<T, double>) {
      return Type::kDouble;
    } else if constexpr (std::is_same_v<T, bool>) {
      return Type::kBool;
    } else {
      return Type::kString;
    }
  }
};

}  // namespace ewgs::train
