// Typed configuration keys with TOML and override parsing (include/ewgs/train/config_schema.h).
#include "ewgs/train/config_schema.h"

#include <c10/util/Exception.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "ewgs/core/data_dir.h"
#include "ewgs/core/files.h"
#include "ewgs/core/strings.h"

namespace ewgs::train {
namespace {

const char* type_name(ConfigSchema::Type type) {
  switch (type) {
    case ConfigSchema::Type::kInt:
      return "integer";
    case ConfigSchema::Type::kDouble:
      return "number";
    case ConfigSchema::Type::kBool:
      return "boolean";
    case ConfigSchema::Type::kString:
      return "string";
  }
  return "?";
}

/// "an integer", "a number", ...
std::string with_article(ConfigSchema::Type type) {
  return (type == ConfigSchema::Type::kInt ? "an " : "a ") + std::string(type_name(type));
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

double numeric_value(const ConfigSchema::Key& key) {
  return key.type == ConfigSchema::Type::kInt
             ? static_cast<double>(*static_cast<int64_t*>(key.field))
             : *static_cast<double*>(key.field);
}

}  // namespace

std::string ConfigSchema::Key::value_text() const {
  switch (type) {
    case Type::kInt:
      return std::to_string(*static_cast<int64_t*>(field));
    case Type::kDouble: {
      // The shortest text that reads back as the same double.
      const double v = *static_cast<double*>(field);
      std::string text;
      for (int precision = 1; precision <= 17; ++precision) {
        std::ostringstream s;
        s.precision(precision);
        s << v;
        text = s.str();
        if (std::strtod(text.c_str(), nullptr) == v) {
          break;
        }
      }
      if (text.find_first_of(".eEn") == std::string::npos) {
        text += ".0";  // stays a TOML float
      }
      return text;
    }
    case Type::kBool:
      return *static_cast<bool*>(field) ? "true" : "false";
    case Type::kString:
      return quote(*static_cast<std::string*>(field));
  }
  return "";
}

ConfigSchema::Key& ConfigSchema::add_key(
    const std::string& name, Type type, void* field, const std::string& description) {
  TORCH_CHECK(name.find('.') != std::string::npos, "config key '", name, "' must be section.key");
  TORCH_CHECK(find(name) == nullptr, "config key '", name, "' defined twice");
  keys_.push_back({name, type, description, field, {}, {}});
  return keys_.back();
}

ConfigSchema::KeyBuilder ConfigSchema::add(
    const std::string& name, int64_t* field, const std::string& description) {
  return KeyBuilder(add_key(name, Type::kInt, field, description));
}

ConfigSchema::KeyBuilder ConfigSchema::add(
    const std::string& name, double* field, const std::string& description) {
  return KeyBuilder(add_key(name, Type::kDouble, field, description));
}

ConfigSchema::KeyBuilder ConfigSchema::add(
    const std::string& name, bool* field, const std::string& description) {
  return KeyBuilder(add_key(name, Type::kBool, field, description));
}

ConfigSchema::KeyBuilder ConfigSchema::add(
    const std::string& name, std::string* field, const std::string& description) {
  return KeyBuilder(add_key(name, Type::kString, field, description));
}

namespace {

void require_type(const ConfigSchema::Key& key, bool fits, const char* constraint) {
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

bool is_numeric(const ConfigSchema::Key& key) {
  return key.type == ConfigSchema::Type::kInt || key.type == ConfigSchema::Type::kDouble;
}

}  // namespace

ConfigSchema::KeyBuilder& ConfigSchema::KeyBuilder::at_least(double minimum) {
  require_type(key_, is_numeric(key_), "at_least");
  key_.checks.push_back([minimum](const Key& k) {
    return numeric_value(k) >= minimum ? std::string() : "must be >= " + c10::str(minimum);
  });
  return *this;
}

ConfigSchema::KeyBuilder& ConfigSchema::KeyBuilder::between(double lo, double hi) {
  require_type(key_, is_numeric(key_), "between");
  key_.checks.push_back([lo, hi](const Key& k) {
    const double v = numeric_value(k);
    return v >= lo && v <= hi ? std::string()
                              : "must be in [" + c10::str(lo) + ", " + c10::str(hi) + "]";
  });
  return *this;
}

ConfigSchema::KeyBuilder& ConfigSchema::KeyBuilder::one_of(std::vector<std::string> choices) {
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

ConfigSchema::KeyBuilder& ConfigSchema::KeyBuilder::expands_data_dir() {
  require_type(key_, key_.type == Type::kString, "expands_data_dir");
  key_.expands_data_dir = true;
  return *this;
}

ConfigSchema::Key* ConfigSchema::find(const std::string& name) {
  for (auto& k : keys_) {
    if (k.name == name) {
      return &k;
    }
  }
  return nullptr;
}

std::string ConfigSchema::value_text(const std::string& name) const {
  for (const auto& k : keys_) {
    if (k.name == name) {
      return k.value_text();
    }
  }
  TORCH_CHECK(false, "unknown config key '", name, "'", did_you_mean(name, names()));
}

std::vector<std::string> ConfigSchema::names() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) {
    out.push_back(k.name);
  }
  return out;
}

void ConfigSchema::set_from_text(Key& key, const std::string& value, const std::string& source) {
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
  switch (key.type) {
    case Type::kInt: {
      const long long v = std::strtoll(value.c_str(), &end, 10);
      TORCH_CHECK(
          errno == 0 && !value.empty() && end == value_end,
          where,
          " must be an integer, got '",
          value,
          "'");
      *static_cast<int64_t*>(key.field) = v;
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
      *static_cast<double*>(key.field) = v;
      break;
    }
    case Type::kBool:
      TORCH_CHECK(
          value == "true" || value == "false", where, " must be true or false, got '", value, "'");
      *static_cast<bool*>(key.field) = value == "true";
      break;
    case Type::kString: {
      std::string v = value;
      if (key.expands_data_dir) {
        v = expand_data_dir(v, where);
      }
      if (!key.choices.empty()) {
        bool allowed = false;
        for (const auto& c : key.choices) {
          allowed = allowed || c == v;
        }
        TORCH_CHECK(
            allowed,
            where,
            " must be one of ",
            join(key.choices, ", "),
            "; got '",
            v,
            "'",
            did_you_mean(v, key.choices));
      }
      *static_cast<std::string*>(key.field) = v;
      break;
    }
  }
  for (const auto& check : key.checks) {
    const std::string problem = check(key);
    TORCH_CHECK(problem.empty(), where, " ", problem, ", got ", key.value_text());
  }
}

void ConfigSchema::apply_override(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  TORCH_CHECK(
      eq != std::string::npos && eq > 0, "override '", assignment, "': expected section.key=value");
  const std::string name = trim(assignment.substr(0, eq));
  Key* key = find(name);
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
  set_from_text(*key, value, "override");
}

void ConfigSchema::apply_toml(const toml::table& table, const std::string& source) {
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
      Key* key = find(name);
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
      set_from_text(*key, text, source);
    }
  }
}

void ConfigSchema::apply_file(const std::string& path) {
  apply_file(path, 0);
}

void ConfigSchema::apply_file(const std::string& path, int depth) {
  TORCH_CHECK(depth < 8, path, ": more than 8 nested 'base' files (a cycle?)");
  require_regular_file(path, "config file");
  try {
    const auto table = toml::parse_file(path);
    if (const auto* base = table.get("base")) {
      TORCH_CHECK(base->is_string(), path, ": base must be a string naming another config file");
      // A base path is relative to the file that names it.
      const auto base_path = std::filesystem::path(path).parent_path() / base->as_string()->get();
      apply_file(base_path.string(), depth + 1);
    }
    apply_toml(table, path);
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

void ConfigSchema::apply_text(const std::string& text, const std::string& source) {
  try {
    apply_toml(toml::parse(text, source), source);
  } catch (const toml::parse_error& e) {
    TORCH_CHECK(false, source, ":", e.source().begin.line, ": invalid TOML: ", e.description());
  }
}

std::string ConfigSchema::to_toml() const {
  std::string out;
  std::string current;
  for (const auto& k : keys_) {
    const size_t dot = k.name.find('.');
    const std::string section = k.name.substr(0, dot);
    if (section != current) {
      out += (out.empty() ? "[" : "\n[") + section + "]\n";
      current = section;
    }
    out += k.name.substr(dot + 1) + " = " + k.value_text() + "\n";
  }
  return out;
}

std::string ConfigSchema::describe() const {
  std::string out;
  for (const auto& k : keys_) {
    out +=
        "  --" + k.name + "=" + k.value_text() + "  (" + type_name(k.type) + ") " + k.description;
    if (!k.choices.empty()) {
      out += " [" + join(k.choices, ", ") + "]";
    }
    out += "\n";
  }
  return out;
}

}  // namespace ewgs::train
