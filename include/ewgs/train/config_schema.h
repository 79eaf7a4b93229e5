// A declarative table of typed "section.key" settings bound to struct fields:
// applies TOML files and --section.key=value overrides, rejects unknown keys with
// a suggestion and invalid values naming the key, and prints the resolved config.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace ewgs::train {

/// The typed settings of one configuration, each bound to a field.
///
/// Example:
///   int64_t epochs = 10;
///   ConfigSchema schema;
///   schema.add("train.epochs", &epochs, "training epochs").at_least(1);
///   schema.apply_override("train.epochs=3");
class ConfigSchema {
 public:
  enum class Type { kInt, kDouble, kBool, kString };

  struct Key {
    std::string name;
    Type type;
    std::string description;
    void* field;
    /// Checks of a new value, all applied in order: each returns an error text or "".
    std::vector<std::function<std::string(const Key&)>> checks;
    /// Allowed strings (empty: any).
    std::vector<std::string> choices;
    /// Strings: "${EWGS_DATA_DIR}" in a new value becomes the data folder.
    bool expands_data_dir = false;

    /// The field's current value as TOML-like text.
    std::string value_text() const;
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

  KeyBuilder add(const std::string& name, int64_t* field, const std::string& description);
  KeyBuilder add(const std::string& name, double* field, const std::string& description);
  KeyBuilder add(const std::string& name, bool* field, const std::string& description);
  KeyBuilder add(const std::string& name, std::string* field, const std::string& description);

  /// Applies every key of a parsed TOML document; `source` names it in errors.
  void apply_toml(const toml::table& table, const std::string& source);
  /// Parses and applies a TOML file. A top-level `base = "other.toml"`
  /// (relative to this file) is applied first, so recipes can share a base.
  void apply_file(const std::string& path);
  /// Parses and applies TOML text.
  void apply_text(const std::string& text, const std::string& source);
  /// Applies one "section.key=value" override (value parsed by the key's type).
  void apply_override(const std::string& assignment);

  /// The resolved configuration as TOML text (sections in order of keys).
  std::string to_toml() const;
  /// One line per key: name, type, current (default) value, description.
  std::string describe() const;

  const std::vector<Key>& keys() const { return keys_; }
  /// The current value of key `name` as text (error for unknown names).
  std::string value_text(const std::string& name) const;

 private:
  void apply_file(const std::string& path, int depth);
  Key& add_key(const std::string& name, Type type, void* field, const std::string& description);
  Key* find(const std::string& name);
  /// Parses `value` by the key's type, checks and stores it; a string is taken as
  /// it is (apply_override has already trimmed and unquoted an override).
  void set_from_text(Key& key, const std::string& value, const std::string& source);
  std::vector<std::string> names() const;

  std::vector<Key> keys_;
};

}  // namespace ewgs::train
