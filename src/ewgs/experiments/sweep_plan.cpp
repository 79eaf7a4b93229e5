// Parsing and expansion of sweep plans (include/ewgs/experiments/sweep_plan.h).
#include "ewgs/experiments/sweep_plan.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <filesystem>
#include <set>

#include "ewgs/core/strings.h"

namespace ewgs::experiments {
namespace {

/// A TOML scalar as the text a --section.key=value override takes.
std::string scalar_text(const toml::node& node, const std::string& where) {
  if (const auto* s = node.as_string()) {
    return s->get();
  }
  if (const auto* i = node.as_integer()) {
    return std::to_string(i->get());
  }
  if (const auto* f = node.as_floating_point()) {
    return fmt::format("{}", f->get());  // shortest text that reads back exactly
  }
  if (const auto* b = node.as_boolean()) {
    return b->get() ? "true" : "false";
  }
  TORCH_CHECK(false, where, " must be a string, number or boolean");
}

Overrides overrides_of(const toml::table& table, const std::string& where) {
  Overrides out;
  for (const auto& [key, value] : table) {
    const std::string name(key.str());
    out.emplace_back(name, scalar_text(value, where + "." + name));
  }
  return out;
}

const toml::table& table_at(
    const toml::table& root, const std::string& name, const std::string& path) {
  const auto* table = root[name].as_table();
  TORCH_CHECK(table != nullptr, path, ": '", name, "' must be a [", name, "] table");
  return *table;
}

/// "seed" for run.seed unless two grid keys end alike; values made safe as a folder name.
std::string cell_part(
    const std::string& key, const std::string& value, const std::set<std::string>& ambiguous) {
  const std::string leaf = key.substr(key.rfind('.') + 1);
  std::string text = (ambiguous.count(leaf) ? key : leaf) + "=" + value;
  for (char& c : text) {
    if (c == '/' || c == '\\' || c == ' ') {
      c = '_';
    }
  }
  return text;
}

void parse_variants(const toml::node& node, SweepPlan& plan) {
  const auto* list = node.as_array();
  TORCH_CHECK(
      list != nullptr && list->is_array_of_tables(),
      plan.path,
      ": 'variant' must be [[variant]] tables");
  std::set<std::string> names;
  for (const auto& item : *list) {
    const auto& table = *item.as_table();
    SweepVariant v;
    const auto* name = table["name"].as_string();
    TORCH_CHECK(
        name != nullptr && !name->get().empty(), plan.path, ": every [[variant]] needs a name");
    v.name = name->get();
    const std::string where = plan.path + ": variant '" + v.name + "'";
    TORCH_CHECK(names.insert(v.name).second, where, " is defined twice");
    TORCH_CHECK(v.name.find('/') == std::string::npos, where, ": a name may not contain '/'");
    for (const auto& [key, value] : table) {
      const std::string k(key.str());
      if (k == "set") {
        TORCH_CHECK(value.is_table(), where, ": 'set' must be a table of section.key = value");
        v.set = overrides_of(*value.as_table(), where + " set");
      } else if (k == "paper_top1") {
        TORCH_CHECK(value.is_number(), where, ": paper_top1 must be a number");
        v.paper_top1 = value.value<double>();
      } else {
        TORCH_CHECK(k == "name", where, ": unknown key '", k, "' (expected name, set, paper_top1)");
      }
    }
    plan.variants.push_back(std::move(v));
  }
}

void parse_grid(const toml::table& table, SweepPlan& plan) {
  for (const auto& [key, value] : table) {
    const std::string name(key.str());
    const auto* list = value.as_array();
    TORCH_CHECK(
        list != nullptr && !list->empty(),
        plan.path,
        ": grid key '",
        name,
        "' must be a non-empty array");
    std::vector<std::string> values;
    for (const auto& item : *list) {
      values.push_back(scalar_text(item, plan.path + ": grid." + name));
    }
    TORCH_CHECK(
        std::set<std::string>(values.begin(), values.end()).size() == values.size(),
        plan.path,
        ": grid key '",
        name,
        "' repeats a value");
    plan.grid.emplace_back(name, std::move(values));
  }
}

void check_cell(const SweepPlan& plan, const SweepCell& cell) {
  try {
    plan.config_of(cell).validate();
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, plan.path, ": cell ", cell.dir, ": ", e.what_without_backtrace());
  }
}

}  // namespace

SweepPlan SweepPlan::load(
    const std::string& path,
    const std::string& profile,
    const std::vector<std::string>& command_line) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    TORCH_CHECK(
        false,
        path,
        ":",
        e.source().begin.line,
        ": invalid TOML: ",
        e.description(),
        std::filesystem::exists(path) ? "" : " (the file does not exist)");
  }
  SweepPlan plan;
  plan.path = path;
  std::string requested = profile;
  for (const auto& [key, node] : root) {
    const std::string name(key.str());
    if (name == "sweep") {
      const auto& sweep = table_at(root, name, path);
      for (const auto& [k, v] : sweep) {
        const std::string field(k.str());
        const auto* text = v.as_string();
        TORCH_CHECK(text != nullptr, path, ": sweep.", field, " must be a string");
        if (field == "base") {
          plan.base =
              (std::filesystem::path(path).parent_path() / text->get()).lexically_normal().string();
        } else if (field == "title") {
          plan.title = text->get();
        } else if (field == "baseline") {
          plan.baseline = text->get();
        } else {
          TORCH_CHECK(
              false, path, ": unknown key sweep.", field, " (expected base, title, baseline)");
        }
      }
    } else if (name == "set") {
      plan.set = overrides_of(table_at(root, name, path), path + ": set");
    } else if (name == "grid") {
      parse_grid(table_at(root, name, path), plan);
    } else if (name == "variant") {
      parse_variants(node, plan);
    } else if (name == "profile") {
      const auto& profiles = table_at(root, name, path);
      std::vector<std::string> names;
      for (const auto& [k, v] : profiles) {
        names.emplace_back(k.str());
      }
      if (requested.empty()) {
        TORCH_CHECK(
            profiles.contains("full"),
            path,
            ": choose a profile (",
            join(names, ", "),
            "); without one the plan runs 'full', which it does not define");
        requested = "full";
      }
      const auto* chosen = profiles[requested].as_table();
      TORCH_CHECK(
          chosen != nullptr,
          path,
          ": no profile '",
          requested,
          "' (the plan has ",
          join(names, ", "),
          ")");
      plan.profile = requested;
      plan.profile_set = overrides_of(*chosen, path + ": profile." + requested);
    } else {
      TORCH_CHECK(
          false,
          path,
          ": unknown table '",
          name,
          "' (expected sweep, set, grid, variant, profile)");
    }
  }
  for (const auto& assignment : command_line) {
    const size_t eq = assignment.find('=');
    TORCH_CHECK(
        eq != std::string::npos && eq > 0, "--set '", assignment, "': expected section.key=value");
    plan.command_line.emplace_back(assignment.substr(0, eq), assignment.substr(eq + 1));
  }
  TORCH_CHECK(!plan.base.empty(), path, ": sweep.base must name the base recipe");
  TORCH_CHECK(
      std::filesystem::is_regular_file(plan.base),
      path,
      ": sweep.base ",
      plan.base,
      " is not a file");
  TORCH_CHECK(
      profile.empty() || !plan.profile.empty(),
      path,
      ": no profile '",
      profile,
      "': the plan defines no [profile.NAME] tables");
  if (!plan.baseline.empty()) {
    bool found = false;
    for (const auto& v : plan.variants) {
      found = found || v.name == plan.baseline;
    }
    TORCH_CHECK(found, path, ": sweep.baseline '", plan.baseline, "' is not a variant's name");
  }
  for (const auto& cell : plan.cells()) {
    check_cell(plan, cell);
  }
  return plan;
}

std::vector<SweepCell> SweepPlan::cells() const {
  std::set<std::string> leaves;
  std::set<std::string> ambiguous;
  for (const auto& [key, values] : grid) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    if (!leaves.insert(leaf).second) {
      ambiguous.insert(leaf);
    }
  }
  std::vector<SweepVariant> list = variants;
  if (list.empty()) {
    list.push_back({});
  }
  std::vector<SweepCell> out;
  for (const auto& variant : list) {
    size_t combinations = 1;
    for (const auto& [key, values] : grid) {
      combinations *= values.size();
    }
    for (size_t index = 0; index < combinations; ++index) {
      SweepCell cell;
      cell.variant = variant.name;
      size_t rest = index;
      std::vector<std::string> parts;
      for (size_t g = grid.size(); g-- > 0;) {
        const auto& [key, values] = grid[g];
        cell.grid.insert(cell.grid.begin(), {key, values[rest % values.size()]});
        rest /= values.size();
      }
      for (const auto& [key, value] : cell.grid) {
        parts.push_back(cell_part(key, value, ambiguous));
      }
      const std::string grid_dir = parts.empty() ? "run" : join(parts, ",");
      cell.dir = variant.name.empty() ? grid_dir : variant.name + "/" + grid_dir;
      const Overrides* const sources[] = {
          &set, &profile_set, &variant.set, &command_line, &cell.grid};
      for (const Overrides* source : sources) {
        cell.overrides.insert(cell.overrides.end(), source->begin(), source->end());
      }
      out.push_back(std::move(cell));
    }
  }
  return out;
}

train::TrainConfig SweepPlan::config_of(const SweepCell& cell) const {
  train::TrainConfig config;
  config.apply_file(base);
  for (const auto& [key, value] : cell.overrides) {
    config.apply_override(key + "=" + value);
  }
  return config;
}

}  // namespace ewgs::experiments
