// `ewgs bench step`: times full-precision, STE and EWGS training steps of one model
// side by side (round-robin, after warm-up; medians), and the EWGS step on the
// composite reference path, so the cost of quantization is a ratio; on CUDA also the
// EWGS step replayed from a CUDA graph (run.cuda_graph).
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "bench_util.h"
#include "commands.h"
#include "ewgs/core/threads.h"
#include "ewgs/core/version.h"
#include "ewgs/models/registry.h"
#include "ewgs/quant/fused_kernels.h"
#include "ewgs/quant/interval_quantizer.h"
#include "ewgs/train/captured_step.h"
#include "ewgs/train/optimizers.h"

namespace ewgs::cli {
namespace {

struct StepArgs {
  std::string model = "resnet20";
  int64_t wbits = 1;
  int64_t abits = 1;
  int64_t batch = 256;
  std::string device = "cpu";
  int64_t threads = 0;
  int64_t steps = 0;
  int64_t warmup = 3;
  bool json = false;
};

/// One contender: a model and its optimizers, trained on a fixed batch, step by
/// step or by replays of a CUDA graph of the step.
struct Variant {
  std::string name;
  bool fused = true;
  models::ClassifierPtr model;
  train::Optimizers optimizers;
  std::unique_ptr<train::CapturedStep> graph;
  std::vector<double> ms;
  /// Why the variant stopped (its error), reported beside the others' timings.
  std::string failure;
};

Variant make_variant(
    const std::string& name,
    const StepArgs& args,
    const std::string& method,
    bool fused,
    const torch::Tensor& images,
    const torch::Device& device) {
  train::TrainConfig config;
  config.model_name = args.model;
  if (method != "off") {
    config.quant_method = method;
    config.quant_wbits = args.wbits;
    config.quant_abits = args.abits;
    config.quant_delta = method == "ewgs" ? "0.001" : "0";
    config.optim_optimizer = "adam";
    config.optim_lr = 1e-3;
  }
  config.validate();
  Variant v{name, fused, nullptr, {}, nullptr, {}, {}};
  v.model = models::make_model(args.model, {10, images.size(1), config.quant_spec()});
  v.model->to(device);
  v.model->train();
  {
    torch::NoGradGuard no_grad;
    v.model->forward(images);  // paper initialization of the quantizers
  }
  v.optimizers = train::make_optimizers(config, *v.model);
  return v;
}

/// A batch's loss and logits.
train::StepOutputs forward_loss(
    models::ClassifierImpl& model, const torch::Tensor& images, const torch::Tensor& labels) {
  auto logits = model.forward(images);
  return {torch::nn::functional::cross_entropy(logits, labels), logits};
}

/// Trains `v` by replays of a CUDA graph of its step. The graph keeps references
/// to `v`'s optimizers: `v` must not move afterwards.
void attach_graph(Variant& v) {
  v.graph = std::make_unique<train::CapturedStep>(
      v.optimizers,
      v.model->parameters(),
      [model = v.model](const torch::Tensor& images, const torch::Tensor& labels) {
        return forward_loss(*model, images, labels);
      });
}

double time_step(
    Variant& v,
    const torch::Tensor& images,
    const torch::Tensor& labels,
    const torch::Device& device) {
  quant::set_fused_kernels(v.fused);
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  const auto eager_step = [&] {
    v.optimizers.zero_grad();
    auto out = forward_loss(*v.model, images, labels);
    out.loss.backward();
    v.optimizers.step();
    return out;
  };
  if (v.graph) {
    v.graph->step(images, labels, eager_step);
  } else {
    eager_step();
  }
  synchronize(device);
  quant::set_fused_kernels(true);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

void run_step_bench(const StepArgs& args) {
  const auto device = parse_device(args.device);
  const int64_t threads = set_cpu_threads(args.threads);
  torch::manual_seed(0);
  const auto shape = input_shape(args.model);
  const auto images = torch::randn({args.batch, shape[0], shape[1], shape[2]}).to(device);
  const auto labels = torch::randint(0, 10, {args.batch}, torch::kLong).to(device);
  std::vector<Variant> variants;
  variants.push_back(make_variant("fp", args, "off", true, images, device));
  variants.push_back(make_variant("ste", args, "ste", true, images, device));
  variants.push_back(make_variant("ewgs", args, "ewgs", true, images, device));
  variants.push_back(make_variant("ewgs_composite", args, "ewgs", false, images, device));
  int64_t warmup = args.warmup;
  if (device.is_cuda()) {
    variants.push_back(make_variant("ewgs_graph", args, "ewgs", true, images, device));
    attach_graph(variants.back());  // the last element added: it stays where it is
    warmup = std::max<int64_t>(warmup, train::CapturedStep::kWarmupSteps + 1);  // captured by then
  }
  const int64_t steps = args.steps > 0 ? args.steps : (device.is_cuda() ? 200 : 15);
  for (int64_t i = 0; i < warmup + steps; ++i) {
    for (auto& v : variants) {  // round-robin: drift hits every variant alike
      if (!v.failure.empty()) {
        continue;
      }
      try {
        const double ms = time_step(v, images, labels, device);
        if (i >= warmup) {
          v.ms.push_back(ms);
        }
      } catch (const c10::Error& e) {
        v.failure = e.what_without_backtrace();
        v.ms.clear();
      }
    }
  }
  nlohmann::json out = bench_header("step", device, threads);
  out["model"] = args.model;
  out["wbits"] = args.wbits;
  out["abits"] = args.abits;
  out["batch"] = args.batch;
  out["steps"] = steps;
  out["input"] = "random images and labels, one fixed batch";
  TORCH_CHECK(variants[0].failure.empty(), "bench step: the fp step failed: ", variants[0].failure);
  const double fp = median(variants[0].ms);
  for (auto& v : variants) {
    if (!v.failure.empty()) {
      out[v.name + "_error"] = v.failure;
      continue;
    }
    out[v.name + "_ms"] = median(v.ms);
    if (v.name != "fp") {
      out[v.name + "_ratio"] = median(v.ms) / fp;
    }
  }
  if (args.json) {
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << fmt::format(
      "{} W{}A{} batch {} on {} ({} threads), median of {} steps\n",
      args.model,
      args.wbits,
      args.abits,
      args.batch,
      args.device,
      threads,
      steps);
  for (auto& v : variants) {
    if (!v.failure.empty()) {
      std::cout << fmt::format("  {:<15} failed: {}\n", v.name, v.failure);
      continue;
    }
    std::cout << fmt::format(
        "  {:<15} {:9.2f} ms  {:5.2f}x fp\n", v.name, median(v.ms), median(v.ms) / fp);
  }
}

}  // namespace

void add_bench_step_command(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("step", "Time FP, STE and EWGS training steps side by side");
  auto args = std::make_shared<StepArgs>();
  cmd->add_option("--model", args->model, "Model")->capture_default_str();
  cmd->add_option("--wbits", args->wbits, "Weight bits of quantized layers")->capture_default_str();
  cmd->add_option("--abits", args->abits, "Activation bits of quantized layers")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "Batch size")->capture_default_str();
  cmd->add_option("--device", args->device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_option("--steps", args->steps, "Timed steps per variant (0: 15 on CPU, 200 on CUDA)");
  cmd->add_option("--warmup", args->warmup, "Untimed steps first")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run_step_bench(*args); });
}

}  // namespace ewgs::cli
