// A sweep plan (PLAN.toml): a base training recipe, settings shared by every cell,
// named variants (each a set of overrides, optionally with the paper's number), a
// grid of values crossed with every variant, and profiles such as the paper's full
// protocol and a budget that fits a small machine. See docs/EXPERIMENTS.md.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ewgs/train/train_config.h"

namespace ewgs::experiments {

/// "section.key=value" overrides in order.
using Overrides = std::vector<std::pair<std::string, std::string>>;

/// One run of a sweep: where it lives and the overrides on top of the base recipe.
struct SweepCell {
  /// Folder inside the sweep directory, e.g. "ewgs-3std/seed=2".
  std::string dir;
  /// The variant's name ("" when the plan has none).
  std::string variant;
  /// Grid values of this cell, e.g. {"run.seed", "2"}.
  Overrides grid;
  /// Every override in the order it applies: set, profile, variant, command line, grid.
  Overrides overrides;
};

struct SweepVariant {
  std::string name;
  Overrides set;
  /// The paper's top-1 for this variant, printed beside ours.
  std::optional<double> paper_top1;
};

struct SweepPlan {
  /// The plan file.
  std::string path;
  /// Free text: what the plan reproduces.
  std::string title;
  /// The base recipe, resolved relative to the plan file.
  std::string base;
  /// The profile in use ("" when the plan has none).
  std::string profile;
  /// The variant paired differences compare against ("" : the first one).
  std::string baseline;
  Overrides set;
  /// The chosen profile's overrides, applied after `set`.
  Overrides profile_set;
  /// Overrides given when the sweep starts (`ewgs sweep --set`), applied after the variant's.
  Overrides command_line;
  std::vector<SweepVariant> variants;
  /// Grid keys with their values, in alphabetical order of key (TOML tables are unordered).
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;

  /// Parses `path`; `profile` picks a [profile.NAME] table ("" : "full" when the
  /// plan has profiles); `command_line` ("section.key=value") goes on top of every
  /// variant. Every cell's config is checked: unknown keys, bad values and invalid
  /// combinations are errors naming the plan and the cell.
  static SweepPlan load(
      const std::string& path,
      const std::string& profile = "",
      const std::vector<std::string>& command_line = {});

  /// Every cell: variants in file order, then the grid, its last key varying fastest.
  std::vector<SweepCell> cells() const;

  /// The resolved training config of `cell`: the base recipe, then its overrides.
  train::TrainConfig config_of(const SweepCell& cell) const;
};

}  // namespace ewgs::experiments
