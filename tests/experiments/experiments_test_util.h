// Sweep plans and base recipes written for the experiments tests: small_cnn at
// W1A1 on a tiny image folder, so a cell trains in a second or two.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "train/train_test_util.h"

namespace ewgs::test {

/// The whole file at `path` ("" when it does not exist).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// The JSON file at `path`.
inline nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_text(path));
}

/// Writes `text` to `path`.
inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

/// A folder with base.toml (tiny data at `data_root`) and plan.toml: three
/// variants (ste with the paper's 84.7, ewgs with a fixed delta, ewgs with a
/// Hessian delta updated at the start of epoch 2) over three seeds, with a full
/// (3 epochs) and a budget (2 epochs) profile. Returns the plan's path.
inline std::string write_three_method_plan(
    const std::string& folder, const std::string& data_root) {
  std::filesystem::create_directories(folder);
  write_text(folder + "/base.toml", R"([run]
threads = 1
[data]
dataset = "cifar10-jpeg"
root = ")" + data_root + R"("
workers = 1
[model]
name = "small_cnn"
[quant]
method = "ste"
wbits = 1
abits = 1
[train]
epochs = 2
batch_size = 8
eval_every = 1
[optim]
lr = 0.05
)");
  write_text(folder + "/plan.toml", R"(# three estimators over three seeds
[sweep]
base = "base.toml"
title = "three estimators"
baseline = "ste"

[grid]
"run.seed" = [1, 2, 3]

[[variant]]
name = "ste"
paper_top1 = 84.7
set = { "quant.method" = "ste" }

[[variant]]
name = "ewgs-fixed"
set = { "quant.method" = "ewgs", "quant.delta" = 1e-3 }

[[variant]]
name = "ewgs-hessian"
[variant.set]
"quant.method" = "ewgs"
"quant.delta" = "hessian"
"hessian.period" = 1
"hessian.batches" = 1

[profile.full]
"train.epochs" = 3

[profile.budget]
"train.epochs" = 2
)");
  return folder + "/plan.toml";
}

}  // namespace ewgs::test
