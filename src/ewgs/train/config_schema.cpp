// Typed configuration keys with TOML and override parsing (include/ewgs/train/config_schema.h).
#include "ewgs/train/config_schema.h"

#include <c10/util/Exception.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>
#include <utility>

#include "ewgs/core/data_dir.h"
#include "ewgs/core/files.h"
#include "ewgs/core/strings.h"

namespace ewgs::train {
namespace {

const char* type_name(ConfigKeys::Type type) {
  switch (type) {
    case ConfigKeys::Type::kInt:
      return "integer";
    case ConfigKeys::Type::kDouble:
      return "number";
    case ConfigKeys::Type::kBool:
      return "boolean";
    case ConfigKeys::Type::kString:
      return "string";
  }
  return "?";
}

/// "an integer", "a number", ...
std::string with_article(ConfigKeys::Type type) {
  return (type == ConfigKeys::Type::kInt ? "an " : "a ") + std::string(type_name(type));
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c == '\t' ? std::string("\\t")
                     : std::string(1, c);  // the one control character values may hold
  }
  return out + "\"";
}

/// An integer or double value as a double, for the numeric constraints.
double numeric_value(const ConfigKeys::Value& value) {
  return std::holds_alternative<int64_t>(value) ? static_cast<double>(std::get<int64_t>(value))
                                                : std::get<double>(value);
}

/// The value as TOML text.
std::string value_as_text(const ConfigKeys::Value& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    return std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&value)) {
    if (std::isfinite(*d) && *d == std::trunc(*d) && std::abs(*d) < 1e15) {
      std::ostringstream s;  // 300.0, not the shorter 3e+02
      s << std::fixed << std::setprecision(1) << *d;
      return s.str();
    }
    // The shortest text that reads back as the same double.
    std::string text;
    for (int precision = 1; precision <= 17; ++precision) {
      std::ostringstream s;
      s.precision(precision);
      s << *d;
      text = s.str();
      if (std::strtod(text.c_str(), nullptr) == *d) {
        break;
      }
    }
    if (text.find_first_of(".eEn") == std::string::npos) {
      text += ".0";  // stays a TOML float
    }
    return text;
  }
  if (const auto* b = std::get_if<bool>(&value)) {
    return *b ? "true" : "false";
  }
  return quote(std::get<std::string>(value));
}

/// Errors unless `value` is one of the key's choices and passes its checks;
/// `where` names the key.
void check_value(
    const ConfigKeys::Key& key, const ConfigKeys::Value& value, const std::string& where) {
  if (const auto* text = std::get_if<std::string>(&value);
      text != nullptr && !key.choices.empty()) {
    TORCH_CHECK(
        std::find(key.choices.begin(), key.choices.end(), *text) != key.choices.end(),
        where,
        " must be one of ",
        join(key.choices, ", "),
        "; got '",
        *text,
        "'",
        did_you_mean(*text, key.choices));
  }
  for (const auto& check : key.checks) {
    const std::string problem = check(value);
    TORCH_CHECK(problem.empty(), where, " ", problem, ", got ", value_as_text(value));
  }
}

/// The key's field in `object`.
ConfigKeys::Value read_field(const ConfigKeys::Key& key, const void* object) {
  void* field = key.field(const_cast<void*>(object));
  switch (key.type) {
    case ConfigKeys::Type::kInt:
      return *static_cast<int64_t*>(field);
    case ConfigKeys::Type::kDouble:
      return *static_cast<double*>(field);
    case ConfigKeys::Type::kBool:
      return *static_cast<bool*>(field);
    case ConfigKeys::Type::kString:
      return *static_cast<std::string*>(field);
  }
  return {};
}

void write_field(const ConfigKeys::Key& key, void* object, ConfigKeys::Value value) {
  void* field = key.field(object);
  std::visit(
      [field](auto&& v) { *static_cast<std::decay_t<decltype(v)>*>(field) = std::move(v); },
      std::move(value));
}

}  // namespace

std::string ConfigKeys::Key::value_text(const void* object) const {
  return value_as_text(read_field(*this, object));
}

ConfigKeys::KeyBuilder ConfigKeys::add_key(
    const std::string& name,
    Type type,
    std::function<void*(void*)> field,
    const std::string& description) {
  TORCH_CHECK(name.find('.') != std::string::npos, "config key '", name, "' must be section.key");
  TORCH_CHECK(find(name) == nullptr, "config key '", name, "' defined twice");
  keys_.push_back({name, type, description, std::move(field), {}, {}});
  return KeyBuilder(keys_.back());
}

namespace {

void require_type(const ConfigKeys::Key& key, bool fits, const char* constraint) {
  TORCH_CHECK(
      fits,
      "config key '",
      key.name,
      "': ",
      constraint,
      " does not apply to ",
      with_article(key.type),
      " key");
}

bool is_numeric(const ConfigKeys::Key& key) {
  return key.type == ConfigKeys::Type::kInt || key.type == ConfigKeys::Type::kDouble;
}

}  // namespace

ConfigKeys::KeyBuilder& ConfigKeys::KeyBuilder::at_least(double minimum) {
  require_type(key_, is_numeric(key_), "at_least");
  key_.checks.push_back([minimum](const Value& v) {
    return numeric_value(v) >= minimum ? std::string() : "must be >= " + c10::str(minimum);
  });
  return *this;
}

ConfigKeys::KeyBuilder& ConfigKeys::KeyBuilder::between(double lo, double hi) {
  require_type(key_, is_numeric(key_), "between");
  key_.checks.push_back([lo, hi](const Value& value) {
    const double v = numeric_value(value);
    return v >= lo && v <= hi ? std::string()
                              : "must be in [" + c10::str(lo) + ", " + c10::str(hi) + "]";
  });
  return *this;
}

ConfigKeys::KeyBuilder& ConfigKeys::KeyBuilder::one_of(std::vector<std::string> choices) {
  require_type(key_, key_.type == Type::kString, "one_of");
  if (!key_.choices.empty()) {
    std::vector<std::string> both;
    // Keep the order the key first listed its choices in.
    for (const auto& c : key_.choices) {
      if (std::find(choices.begin(), choices.end(), c) != choices.end()) {
        both.push_back(c);
      }
    }
    choices = std::move(both);
  }
  TORCH_CHECK(!choices.empty(), "config key '", key_.name, "': one_of leaves no allowed value");
  key_.choices = std::move(choices);
  return *this;
}

ConfigKeys::KeyBuilder& ConfigKeys::KeyBuilder::expands_data_dir() {
  require_type(key_, key_.type == Type::kString, "expands_data_dir");
  key_.expands_data_dir = true;
  return *this;
}

const ConfigKeys::Key* ConfigKeys::find(const std::string& name) const {
  for (const auto& k : keys_) {
    if (k.name == name) {
      return &k;
    }
  }
  return nullptr;
}

std::string ConfigKeys::value_text(const void* object, const std::string& name) const {
  if (const Key* key = find(name)) {
    return key->value_text(object);
  }
  TORCH_CHECK(false, "unknown config key '", name, "'", did_you_mean(name, names()));
}

std::vector<std::string> ConfigKeys::names() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) {
    out.push_back(k.name);
  }
  return out;
}

void ConfigKeys::set_from_text(
    void* object, const Key& key, const std::string& value, const std::string& source) const {
  const std::string where = source + ": " + key.name;
  const auto control = std::find_if(value.begin(), value.end(), [](unsigned char c) {
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
  TORCH_CHECK(
      control == value.end(),
      where,
      " holds the control character ",
      static_cast<int>(static_cast<unsigned char>(*control)),
      " at offset ",
      control - value.begin(),
      " of its value; values are printable text");
  const size_t not_utf8 = invalid_utf8_offset(value);
  TORCH_CHECK(
      not_utf8 == std::string::npos,
      where,
      " is not UTF-8 text: byte ",
      static_cast<int>(static_cast<unsigned char>(value[not_utf8])),
      " at offset ",
      not_utf8,
      " of its value does not belong to a UTF-8 sequence");
  const char* const value_end = value.c_str() + value.size();
  char* end = nullptr;
  errno = 0;
  Value parsed;
  switch (key.type) {
    case Type::kInt: {
      const long long v = std::strtoll(value.c_str(), &end, 10);
      TORCH_CHECK(
          errno == 0 && !value.empty() && end == value_end,
          where,
          " must be an integer, got '",
          value,
          "'");
      parsed = static_cast<int64_t>(v);
      break;
    }
    case Type::kDouble: {
      const double v = std::strtod(value.c_str(), &end);
      TORCH_CHECK(
          errno == 0 && !value.empty() && end == value_end && std::isfinite(v),
          where,
          " must be a finite number, got '",
          value,
          "'");
      parsed = v;
      break;
    }
    case Type::kBool:
      TORCH_CHECK(
          value == "true" || value == "false", where, " must be true or false, got '", value, "'");
      parsed = value == "true";
      break;
    case Type::kString: {
      parsed = key.expands_data_dir ? expand_data_dir(value, where) : value;
      break;
    }
  }
  check_value(key, parsed, where);
  write_field(key, object, std::move(parsed));
}

void ConfigKeys::check_values(const void* object, const std::string& source) const {
  for (const auto& key : keys_) {
    check_value(key, read_field(key, object), source + ": " + key.name);
  }
}

void ConfigKeys::apply_override(void* object, const std::string& assignment) const {
  const size_t eq = assignment.find('=');
  TORCH_CHECK(
      eq != std::string::npos && eq > 0, "override '", assignment, "': expected section.key=value");
  const std::string name = trim(assignment.substr(0, eq));
  const Key* key = find(name);
  TORCH_CHECK(
      key != nullptr,
      "unknown config key '",
      name,
      "'",
      did_you_mean(name, names()),
      " (run with --list-keys to see them all)");
  // Spaces around the value go, as do quotes around a string, which keep what they enclose.
  std::string value = trim(assignment.substr(eq + 1));
  if (key->type == Type::kString && value.size() >= 2 &&
      (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  set_from_text(object, *key, value, "override");
}

void ConfigKeys::apply_toml(
    void* object, const toml::table& table, const std::string& source) const {
  for (const auto& [section, node] : table) {
    const std::string section_name(section.str());
    if (section_name == "base") {
      continue;  // applied by apply_file before this table
    }
    const auto* inner = node.as_table();
    TORCH_CHECK(
        inner != nullptr,
        source,
        ": '",
        section_name,
        "' must be a [section] table; keys are section.key");
    for (const auto& [key_name, value] : *inner) {
      const std::string name = section_name + "." + std::string(key_name.str());
      const Key* key = find(name);
      TORCH_CHECK(
          key != nullptr, source, ": unknown config key '", name, "'", did_you_mean(name, names()));
      std::string text;
      if (const auto* s = value.as_string()) {
        TORCH_CHECK(
            key->type == Type::kString,
            source,
            ": ",
            name,
            " must be ",
            with_article(key->type),
            ", got the string \"",
            s->get(),
            "\"");
        text = s->get();
      } else if (const auto* i = value.as_integer()) {
        text = std::to_string(i->get());
      } else if (const auto* f = value.as_floating_point()) {
        TORCH_CHECK(
            key->type != Type::kInt, source, ": ", name, " must be an integer, got ", f->get());
        std::ostringstream s;
        s.precision(17);
        s << f->get();
        text = s.str();
      } else if (const auto* b = value.as_boolean()) {
        text = b->get() ? "true" : "false";
      } else {
        TORCH_CHECK(false, source, ": ", name, " must be ", with_article(key->type));
      }
      set_from_text(object, *key, text, source);
    }
  }
}

void ConfigKeys::apply_file(void* object, const std::string& path) const {
  apply_file(object, path, 0);
}

void ConfigKeys::apply_file(void* object, const std::string& path, int depth) const {
  TORCH_CHECK(depth < 8, path, ": more than 8 nested 'base' files (a cycle?)");
  require_regular_file(path, "config file");
  try {
    const auto table = toml::parse_file(path);
    if (const auto* base = table.get("base")) {
      TORCH_CHECK(base->is_string(), path, ": base must be a string naming another config file");
      // A base path is relative to the file that names it.
      const auto base_path = std::filesystem::path(path).parent_path() / base->as_string()->get();
      apply_file(object, base_path.string(), depth + 1);
    }
    apply_toml(object, table, path);
  } catch (const toml::parse_error& e) {
    TORCH_CHECK(
        false,
        path,
        ":",
        e.source().begin.line,
        ":",
        e.source().begin.column,
        ": invalid TOML: ",
        e.description());
  }
}

void ConfigKeys::apply_text(
    void* object, const std::string& text, const std::string& source) const {
  try {
    apply_toml(object, toml::parse(text, source), source);
  } catch (const toml::parse_error& e) {
    TORCH_CHECK(false, source, ":", e.source().begin.line, ": invalid TOML: ", e.description());
  }
}

std::string ConfigKeys::to_toml(const void* object) const {
  std::string out;
  std::string current;
  for (const auto& k : keys_) {
    const size_t dot = k.name.find('.');
    const std::string section = k.name.substr(0, dot);
    if (section != current) {
      out += (out.empty() ? "[" : "\n[") + section + "]\n";
      current = section;
    }
    out += k.name.substr(dot + 1) + " = " + k.value_text(object) + "\n";
  }
  return out;
}

std::string ConfigKeys::describe(const void* object) const {
  std::string out;
  for (const auto& k : keys_) {
    out += "  --" + k.name + "=" + k.value_text(object) + "  (" + type_name(k.type) + ") " +
           k.description;
    if (!k.choices.empty()) {
      out += " [" + join(k.choices, ", ") + "]";
    }
    out += "\n";
  }
  return out;
}

}  // namespace ewgs::train
