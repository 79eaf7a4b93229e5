// `ewgs eval`: top-1/top-5 test accuracy of an ewgs checkpoint or a PyTorch .pth.
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>

#include "commands.h"
#include "ewgs/core/strings.h"
#include "ewgs/core/threads.h"
#include "ewgs/train/data_pipeline.h"
#include "ewgs/train/evaluate.h"
#include "ewgs/train/model_from_file.h"

namespace ewgs::cli {
namespace {

struct EvalArgs {
  std::string checkpoint;
  std::string entry;
  bool json = false;
};

void run_eval(const EvalArgs& args, const std::vector<std::string>& overrides) {
  auto loaded = train::load_model_from_file(args.checkpoint, overrides, args.entry);
  const auto& config = loaded.config;
  set_cpu_threads(config.run_threads);
  const torch::Device device(config.run_device == "cuda" ? torch::kCUDA : torch::kCPU);
  loaded.model->to(device);
  train::DataPipeline data(config, /*with_train=*/false);
  const auto meter = train::evaluate(*loaded.model, data.test(), device);
  TORCH_CHECK(
      std::isfinite(meter.loss()),
      args.checkpoint,
      ": the evaluation loss is ",
      number_text(meter.loss()),
      " (top-1 ",
      meter.top1_percent(),
      "%): the model's outputs are not finite, so its accuracy means nothing");
  nlohmann::json out{
      {"checkpoint", args.checkpoint},
      {"model", config.model_name},
      {"quantization", config.quant_spec().describe()},
      {"dataset", config.data_dataset},
      {"split", config.data_test_split},
      {"samples", meter.seen},
      {"loss", meter.loss()},
      {"top1", meter.top1_percent()},
      {"top5", meter.topk_percent()}};
  if (args.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << fmt::format(
        "{} ({}) on {} {} ({} images): top-1 {:.2f}%  top-5 {:.2f}%  loss {:.4f}\n",
        config.model_name,
        config.quant_spec().describe(),
        config.data_dataset,
        config.data_test_split,
        meter.seen,
        meter.top1_percent(),
        meter.topk_percent(),
        meter.loss());
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "Evaluate a checkpoint (or a PyTorch .pth with --model.name=... --data.dataset=...) on the "
      "test split");
  auto args = std::make_shared<EvalArgs>();
  cmd->add_option("--checkpoint", args->checkpoint, "ewgs checkpoint or PyTorch .pth")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option(
      "--entry", args->entry, ".pth: key of the state dict in the saved dict (default: detect)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->allow_extras();
  cmd->callback([cmd, args] { run_eval(*args, collect_overrides(cmd->remaining())); });
}

}  // namespace ewgs::cli
