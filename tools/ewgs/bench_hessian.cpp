// `ewgs bench hessian`: the faithful (official-code) and fast delta estimators on
// the same model and batches, side by side: wall time, and per quantizer the
// agreement within the combined standard error and whether fast met its target.
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>

#include "bench_util.h"
#include "commands.h"
#include "ewgs/core/data_dir.h"
#include "ewgs/core/threads.h"
#include "ewgs/train/checkpoint.h"
#include "ewgs/train/data_pipeline.h"
#include "ewgs/train/model_from_file.h"

namespace ewgs::cli {
namespace {

struct HessianBenchArgs {
  std::string checkpoint = data_dir() + "/resnet20-fp-cifar10jpeg-official.pth";
  std::string data_root = data_dir() + "/cifar10-jpeg.tar.gz";
  int64_t batch = 256;
  int64_t batches = 3;
  int64_t wbits = 1;
  int64_t abits = 1;
  std::string device = "cpu";
  int64_t threads = 0;
  double target_rse = 0.1;
  double target_abs = 1e-5;
  int64_t fast_max_probes = 400;
  bool json = false;
  bool progress = false;
};

void run_hessian_bench(const HessianBenchArgs& args) {
  const auto device = parse_device(args.device);
  const int64_t threads = set_cpu_threads(args.threads);
  // An ewgs checkpoint brings its model, quantization and data; a .pth is
  // the FP ResNet-20, quantized here.
  std::vector<std::string> overrides = {
      "data.root=" + args.data_root,
      "hessian.batches=" + std::to_string(args.batches),
      "hessian.batch_size=" + std::to_string(args.batch)};
  if (!train::is_checkpoint(args.checkpoint)) {
    overrides.insert(
        overrides.end(),
        {"model.name=resnet20",
         "data.dataset=cifar10-jpeg",
         "quant.method=ewgs",
         "quant.wbits=" + std::to_string(args.wbits),
         "quant.abits=" + std::to_string(args.abits),
         "quant.delta=hessian"});
  }
  auto loaded = train::load_model_from_file(args.checkpoint, overrides, "model");
  loaded.model->to(device);
  train::DataPipeline data(loaded.config, /*with_train=*/true);
  std::vector<hessian::Batch> batches;
  for (auto& [images, labels] : data.hessian_batches(0)) {
    batches.emplace_back(images.to(device), labels.to(device));
  }
  train::initialize_quantizers(*loaded.model, batches.front().first);
  auto forward = [&](const at::Tensor& x) { return loaded.model->forward(x); };
  auto faithful_options = loaded.config.estimator_options(1);
  faithful_options.estimator = hessian::Estimator::kFaithful;
  auto fast_options = loaded.config.estimator_options(2);
  fast_options.estimator = hessian::Estimator::kFast;
  fast_options.target_rse = args.target_rse;
  fast_options.target_abs_error = args.target_abs;
  fast_options.max_probes = args.fast_max_probes;
  if (!args.json || args.progress) {
    faithful_options.progress = [](const std::string& line) { std::cerr << line << "\n"; };
    fast_options.progress = faithful_options.progress;
  }
  const auto faithful = hessian::estimate_deltas(*loaded.model, forward, batches, faithful_options);
  const auto fast = hessian::estimate_deltas(*loaded.model, forward, batches, fast_options);

  nlohmann::json rows = nlohmann::json::array();
  int64_t agree = 0;
  int64_t met_target = 0;
  for (size_t i = 0; i < fast.quantizers.size(); ++i) {
    const auto& a = faithful.quantizers[i];
    const auto& b = fast.quantizers[i];
    const double combined =
        std::sqrt(a.delta_stderr * a.delta_stderr + b.delta_stderr * b.delta_stderr);
    const double z =
        combined > 0 ? std::abs(a.delta_unclipped - b.delta_unclipped) / combined : 0.0;
    const bool ok = b.met_target;
    agree += z <= 3.0 ? 1 : 0;
    met_target += ok ? 1 : 0;
    rows.push_back(
        {{"layer", b.layer},
         {"target", hessian::delta_target_key(b.target)},
         {"faithful_delta", a.delta_unclipped},
         {"faithful_stderr", a.delta_stderr},
         {"faithful_probes", a.probes},
         {"faithful_s", a.probe_seconds},
         {"fast_delta", b.delta_unclipped},
         {"fast_stderr", b.delta_stderr},
         {"fast_probes", b.probes},
         {"fast_s", b.probe_seconds},
         {"z", z},
         {"fast_met_target", ok}});
  }
  nlohmann::json out = bench_header("hessian", device, threads);
  out["checkpoint"] = args.checkpoint;
  out["model"] = loaded.config.model_name;
  out["quantization"] = loaded.config.quant_spec().describe();
  out["batch"] = args.batch;
  out["batches"] = args.batches;
  out["faithful_wall_s"] = faithful.wall_s;
  out["fast_wall_s"] = fast.wall_s;
  out["speedup"] = faithful.wall_s / fast.wall_s;
  out["quantizers"] = fast.quantizers.size();
  out["agree_within_3_combined_stderr"] = agree;
  out["fast_met_target"] = met_target;
  out["target"] = fmt::format(
      "stderr <= {} |delta| or <= {}, or delta + {} stderr < 0 (clipped delta settled at 0)",
      args.target_rse,
      args.target_abs,
      fast_options.settle_z);
  out["per_quantizer"] = rows;
  if (args.json) {
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << fmt::format(
      "{} {} batch {} x {} on {} ({} threads)\n  faithful {:.1f} s, fast {:.1f} s ({:.2f}x)\n"
      "  {}/{} quantizers agree within 3 combined standard errors; fast met its target on {}/{}\n",
      loaded.config.model_name,
      out["quantization"].get<std::string>(),
      args.batch,
      args.batches,
      args.device,
      threads,
      faithful.wall_s,
      fast.wall_s,
      faithful.wall_s / fast.wall_s,
      agree,
      fast.quantizers.size(),
      met_target,
      fast.quantizers.size());
}

}  // namespace

void add_bench_hessian_command(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "hessian", "Faithful vs fast EWGS delta estimation on ResNet-20, side by side");
  auto args = std::make_shared<HessianBenchArgs>();
  cmd->add_option(
         "--checkpoint",
         args->checkpoint,
         "FP ResNet-20 .pth (quantized by --wbits/--abits) or an ewgs checkpoint")
      ->capture_default_str();
  cmd->add_option("--data-root", args->data_root, "CIFAR-10 JPEG archive or folder")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "Batch size of the Hessian batches")
      ->capture_default_str();
  cmd->add_option("--batches", args->batches, "Hessian batches")->capture_default_str();
  cmd->add_option("--wbits", args->wbits, ".pth: weight bits")->capture_default_str();
  cmd->add_option("--abits", args->abits, ".pth: activation bits")->capture_default_str();
  cmd->add_option("--device", args->device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_option("--target-rse", args->target_rse, "fast: relative standard error to reach")
      ->capture_default_str();
  cmd->add_option("--target-abs", args->target_abs, "fast: or absolute standard error")
      ->capture_default_str();
  cmd->add_option(
         "--fast-max-probes", args->fast_max_probes, "fast: most probes per quantizer and batch")
      ->check(CLI::Range(int64_t{2}, int64_t{1000000}))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag("--progress", args->progress, "With --json: still report each quantizer on stderr");
  cmd->callback([args] { run_hessian_bench(*args); });
}

}  // namespace ewgs::cli
