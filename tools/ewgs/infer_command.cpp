// `ewgs infer`: evaluates a packed model (.ewgsm) with the inference engine on the
// test split of a data set (by default the one it was exported from); prints top-1.
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

#include "commands.h"
#include "ewgs/core/threads.h"
#include "ewgs/infer/engine.h"
#include "ewgs/train/data_pipeline.h"

namespace ewgs::cli {
namespace {

struct InferArgs {
  std::string model;
  int threads = 1;
  std::string kernels;
  int64_t batch = 256;
  bool json = false;
};

/// The data config: the file's producer data set, then data.* overrides.
train::TrainConfig data_config(
    const infer::Model& model, const InferArgs& args, const std::vector<std::string>& overrides) {
  train::TrainConfig config;
  const auto& producer = model.producer();
  for (const auto& [key, field] :
       {std::pair{"dataset", &config.data_dataset},
        std::pair{"root", &config.data_root},
        std::pair{"split", &config.data_test_split}}) {
    if (producer.contains(key) && producer[key].is_string()) {
      *field = producer[key].get<std::string>();
    }
  }
  for (const auto& o : overrides) {
    TORCH_CHECK(
        o.rfind("data.", 0) == 0, "override '", o, "': ewgs infer takes data.* overrides only");
    config.apply_override(o);
  }
  config.train_batch_size = args.batch;
  config.data_augment = false;
  config.run_threads = args.threads;
  config.validate();
  return config;
}

void run_infer(const InferArgs& args, const std::vector<std::string>& overrides) {
  infer::EngineOptions options;
  options.threads = args.threads;
  if (!args.kernels.empty()) {
    options.kernels = infer::kernel_path_from_string(args.kernels);
  }
  infer::Engine engine(infer::Model::load(args.model), options);
  const auto config = data_config(engine.model(), args, overrides);
  set_cpu_threads(config.run_threads);
  train::DataPipeline data(config, /*with_train=*/false);
  const auto& input = engine.model().input_info();
  TORCH_CHECK(
      data.channels() == input.channels,
      "infer: ",
      config.data_dataset,
      " has ",
      data.channels(),
      "-channel images; ",
      args.model,
      " expects ",
      input.channels);
  int64_t seen = 0;
  int64_t correct = 0;
  double seconds = 0.0;
  auto& batches = data.test();
  batches.start_epoch(0);
  while (auto batch = batches.next()) {
    const auto images = batch->images.to(torch::kFloat).contiguous();
    TORCH_CHECK(
        images.size(2) == input.height && images.size(3) == input.width,
        "infer: images are ",
        images.size(2),
        "x",
        images.size(3),
        "; ",
        args.model,
        " expects ",
        input.height,
        "x",
        input.width);
    const auto start = std::chrono::steady_clock::now();
    const auto logits = engine.run(images.data_ptr<float>(), images.size(0));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto predicted = torch::tensor(logits).reshape({images.size(0), -1}).argmax(1);
    correct += (predicted == batch->labels.to(torch::kLong)).sum().item<int64_t>();
    seen += images.size(0);
  }
  const double top1 =
      seen > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
  nlohmann::json out{
      {"model", args.model},
      {"dataset", config.data_dataset},
      {"split", config.data_test_split},
      {"samples", seen},
      {"top1", top1},
      {"kernels", infer::to_string(engine.kernel_path())},
      {"threads", args.threads},
      {"engine_seconds", seconds}};
  if (args.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << fmt::format(
        "{} on {} {} ({} images): top-1 {:.2f}%  ({} kernels, {} threads, {:.2f} s in the "
        "engine)\n",
        args.model,
        config.data_dataset,
        config.data_test_split,
        seen,
        top1,
        infer::to_string(engine.kernel_path()),
        args.threads,
        seconds);
  }
}

}  // namespace

void add_infer_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("infer", "Evaluate a packed model (.ewgsm) with the inference engine");
  auto args = std::make_shared<InferArgs>();
  cmd->add_option("--model", args->model, "Packed model written by 'ewgs export'")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--threads", args->threads, "Engine threads")->capture_default_str();
  cmd->add_option(
      "--kernels", args->kernels, "Kernel path: reference, portable, avx2, avx512 (default: best)");
  cmd->add_option("--batch", args->batch, "Images per engine run")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->allow_extras();
  cmd->callback([cmd, args] { run_infer(*args, collect_overrides(cmd->remaining())); });
}

}  // namespace ewgs::cli
