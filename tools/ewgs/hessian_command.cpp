// `ewgs hessian`: estimates every EWGS quantizer's Hessian trace and delta on
// training batches of a checkpoint's data, and prints them per layer.
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>

#include "commands.h"
#include "ewgs/core/threads.h"
#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/train/data_pipeline.h"
#include "ewgs/train/model_from_file.h"

namespace ewgs::cli {
namespace {

struct HessianArgs {
  std::string checkpoint;
  std::string entry;
  std::string estimator = "fast";
  bool json = false;
  bool progress = false;
};

void print_table(const hessian::DeltaEstimate& e) {
  std::map<std::string, std::map<std::string, const hessian::QuantizerEstimate*>> rows;
  std::vector<std::string> order;
  for (const auto& q : e.quantizers) {
    if (rows.count(q.layer) == 0) {
      order.push_back(q.layer);
    }
    rows[q.layer][hessian::delta_target_key(q.target)] = &q;
  }
  std::cout << fmt::format(
      "{:<24} {:>11} {:>9} {:>11} {:>9} {:>11} {:>11} {:>7}\n",
      "layer",
      "delta_W",
      "+-",
      "delta_A",
      "+-",
      "Tr/N W",
      "Tr/N A",
      "probes");
  for (const auto& layer : order) {
    auto cell = [&](const char* target, auto field) -> std::string {
      const auto it = rows[layer].find(target);
      return it == rows[layer].end() ? "-" : fmt::format("{:.3e}", field(*it->second));
    };
    int64_t probes = 0;
    for (const auto& [t, q] : rows[layer]) {
      probes += q->probes;
    }
    std::cout << fmt::format(
        "{:<24} {:>11} {:>9} {:>11} {:>9} {:>11} {:>11} {:>7}\n",
        layer,
        cell("weight", [](const auto& q) { return q.delta; }),
        cell("weight", [](const auto& q) { return q.delta_stderr; }),
        cell("act", [](const auto& q) { return q.delta; }),
        cell("act", [](const auto& q) { return q.delta_stderr; }),
        cell("weight", [](const auto& q) { return q.trace_per_element; }),
        cell("act", [](const auto& q) { return q.trace_per_element; }),
        probes);
  }
  std::cout << fmt::format(
      "{} estimator, {} batches, {:.2f} s\n", hessian::to_string(e.estimator), e.batches, e.wall_s);
}

void run_hessian(const HessianArgs& args, const std::vector<std::string>& overrides) {
  auto loaded = train::load_model_from_file(args.checkpoint, overrides, args.entry);
  auto& config = loaded.config;
  set_cpu_threads(config.run_threads);
  const torch::Device device(config.run_device == "cuda" ? torch::kCUDA : torch::kCPU);
  loaded.model->to(device);
  train::DataPipeline data(config, /*with_train=*/true);
  std::vector<hessian::Batch> batches;
  for (auto& [images, labels] : data.hessian_batches(0)) {
    batches.emplace_back(images.to(device), labels.to(device));
  }
  train::initialize_quantizers(*loaded.model, batches.front().first);
  auto options = config.estimator_options(static_cast<uint64_t>(config.run_seed));
  options.estimator = hessian::parse_estimator(args.estimator);
  if (args.progress) {
    options.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  }
  auto forward = [&](const at::Tensor& x) { return loaded.model->forward(x); };
  const auto estimate = hessian::estimate_deltas(*loaded.model, forward, batches, options);
  TORCH_CHECK(
      !estimate.quantizers.empty(),
      args.checkpoint,
      " has no quantizer with a delta; quantize it, e.g. --quant.method=ewgs --quant.wbits=1 "
      "--quant.abits=1");
  if (args.json) {
    auto out = estimate.to_json();
    out["checkpoint"] = args.checkpoint;
    out["model"] = config.model_name;
    out["quantization"] = config.quant_spec().describe();
    out["batch_size"] = batches.front().first.size(0);
    std::cout << out.dump() << "\n";
  } else {
    print_table(estimate);
  }
}

}  // namespace

void add_hessian_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "hessian",
      "Per-layer Hessian traces and EWGS deltas of a checkpoint (or a .pth with --model.name and "
      "--quant.*)");
  auto args = std::make_shared<HessianArgs>();
  cmd->add_option("--checkpoint", args->checkpoint, "ewgs checkpoint or PyTorch .pth")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option(
      "--entry", args->entry, ".pth: key of the state dict in the saved dict (default: detect)");
  cmd->add_option("--estimator", args->estimator, "fast or faithful (the official code's loop)")
      ->check(CLI::IsMember({"fast", "faithful"}))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag(
      "--progress", args->progress, "Report each quantizer and batch on stderr as it finishes");
  cmd->allow_extras();
  cmd->callback([cmd, args] { run_hessian(*args, collect_overrides(cmd->remaining())); });
}

}  // namespace ewgs::cli
