// `ewgs bench infer`: the packed engine against LibTorch FP32 eval of the same
// architecture, side by side in one run (round-robin bursts, after warm-up), at each
// batch size and thread count: latency percentiles, images/s, model bytes, peak memory.
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>

#include "bench_util.h"
#include "commands.h"
#include "ewgs/core/threads.h"
#include "ewgs/deploy/onnx_export.h"
#include "ewgs/deploy/packed_export.h"
#include "ewgs/infer/engine.h"
#include "ewgs/models/registry.h"

namespace ewgs::cli {
namespace {

struct InferBenchArgs {
  std::string model = "resnet20";
  std::string method = "ewgs";
  int64_t wbits = 1;
  int64_t abits = 1;
  std::vector<int64_t> batches = {1, 64};
  std::vector<int> threads = {1, 2};
  std::vector<std::string> kernels;
  int64_t runs = 0;
  int64_t burst = 8;
  int64_t warmup = 3;
  bool profile = false;
  bool json = false;
  std::string onnx;
};

/// One contender: a function that classifies `batch` images.
struct Contender {
  std::string name;
  int64_t model_bytes = 0;
  std::function<void()> run;
  std::vector<double> ms;
  int64_t peak_bytes = 0;
};

/// Reads a "VmRSS:"-style line of /proc/self/status, in bytes.
int64_t status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      return std::stoll(line.substr(key.size())) * 1024;
    }
  }
  return 0;
}

/// Peak resident memory that running `c` a few times adds: the kernel's peak
/// counter is reset first (clear_refs 5), then compared with the resident size.
int64_t peak_memory(Contender& c) {
  std::ofstream("/proc/self/clear_refs") << "5";
  const int64_t before = status_bytes("VmRSS:");
  for (int i = 0; i < 3; ++i) {
    c.run();
  }
  return std::max<int64_t>(0, status_bytes("VmHWM:") - before);
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto i = static_cast<size_t>(
      std::min<double>(values.size() - 1, p * static_cast<double>(values.size() - 1) + 0.5));
  return values[i];
}

/// The quantized model with its quantizers initialized on random images, in eval mode.
models::ClassifierPtr quantized_model(
    const InferBenchArgs& args, const std::vector<int64_t>& shape) {
  models::QuantSpec quant;
  quant.weight = args.method + ":bits=" + std::to_string(args.wbits);
  quant.act = args.method + ":bits=" + std::to_string(args.abits);
  auto model = models::make_model(args.model, {10, shape[0], quant});
  torch::NoGradGuard no_grad;
  model->train();
  model->forward(torch::randn({16, shape[0], shape[1], shape[2]}));
  model->eval();
  return model;
}

int64_t state_bytes(torch::nn::Module& m) {
  int64_t bytes = 0;
  for (const auto& t : m.parameters()) {
    bytes += t.numel() * static_cast<int64_t>(t.element_size());
  }
  for (const auto& t : m.buffers()) {
    bytes += t.numel() * static_cast<int64_t>(t.element_size());
  }
  return bytes;
}

/// Median time of each operation over `runs` runs of `engine` (first path,
/// first thread count, first batch), largest first.
nlohmann::json profile_ops(infer::Engine& engine, const torch::Tensor& images, int64_t runs) {
  const auto& ops = engine.model().ops();
  const auto names = engine.kernel_names();
  std::vector<std::vector<double>> times(ops.size());
  for (int64_t r = 0; r < runs; ++r) {
    auto last = std::chrono::steady_clock::now();
    engine.run_traced(
        images.data_ptr<float>(),
        images.size(0),
        infer::Layout::kNCHW,
        [&](size_t i, const infer::OpTrace&) {
          const auto now = std::chrono::steady_clock::now();
          times[i].push_back(std::chrono::duration<double, std::micro>(now - last).count());
          last = now;
        });
  }
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < ops.size(); ++i) {
    out.push_back(
        {{"op", infer::to_string(ops[i].kind)},
         {"name", ops[i].name},
         {"kernel", names[i]},
         {"median_us", median(times[i])}});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a["median_us"] > b["median_us"];
  });
  return out;
}

void run_infer_bench(const InferBenchArgs& args) {
  torch::manual_seed(0);
  const auto shape = input_shape(args.model);
  auto fp = models::make_model(args.model, {10, shape[0], models::QuantSpec::full_precision()});
  fp->eval();
  auto quantized = quantized_model(args, shape);
  if (!args.onnx.empty()) {
    deploy::OnnxExportOptions onnx;
    onnx.input_shape = shape;
    onnx.description = fmt::format(
        "{} W{}A{} {} (speed benchmark)", args.model, args.wbits, args.abits, args.method);
    deploy::export_onnx(*quantized, onnx, args.onnx);
  }
  deploy::PackedExportOptions options;
  options.input_shape = shape;
  auto bytes = deploy::export_packed_bytes(*quantized, options);
  const auto packed = infer::Model::from_file(infer::ModelFile::parse(bytes, "benchmark model"));
  std::vector<infer::KernelPath> paths;
  for (const auto& k : args.kernels) {
    paths.push_back(infer::kernel_path_from_string(k));
  }
  if (paths.empty()) {
    paths.push_back(infer::default_kernel_path());
  }
  if (args.profile) {
    infer::Engine engine(packed, {args.threads[0], paths[0]});
    const auto images = torch::randn({args.batches[0], shape[0], shape[1], shape[2]});
    const auto ops = profile_ops(engine, images, args.runs > 0 ? args.runs : 200);
    if (args.json) {
      std::cout << nlohmann::json{{"profile", ops}}.dump() << "\n";
      return;
    }
    double total = 0.0;
    for (const auto& op : ops) {
      total += op["median_us"].get<double>();
    }
    std::cout << fmt::format("{} operations, {:.1f} us in all (medians)\n", ops.size(), total);
    for (const auto& op : ops) {
      std::cout << fmt::format(
          "  {:9.1f} us  {:<18} {:<24} {}\n",
          op["median_us"].get<double>(),
          op["op"].get<std::string>(),
          op["name"].get<std::string>(),
          op["kernel"].get<std::string>());
    }
    return;
  }
  nlohmann::json results = nlohmann::json::array();
  for (const int threads : args.threads) {
    for (const int64_t batch : args.batches) {
      set_cpu_threads(threads);
      const auto images = torch::randn({batch, shape[0], shape[1], shape[2]});
      std::vector<Contender> contenders;
      contenders.push_back(
          {"libtorch_fp32",
           state_bytes(*fp),
           [&] {
             torch::NoGradGuard no_grad;
             fp->forward(images);
           },
           {},
           0});
      std::vector<std::unique_ptr<infer::Engine>> engines;
      for (const auto path : paths) {
        engines.push_back(
            std::make_unique<infer::Engine>(packed, infer::EngineOptions{threads, path}));
        auto* engine = engines.back().get();
        contenders.push_back(
            {std::string("engine_") + infer::to_string(path),
             static_cast<int64_t>(bytes.size()),
             [engine, &images, batch] { engine->run(images.data_ptr<float>(), batch); },
             {},
             0});
      }
      for (auto& c : contenders) {
        c.peak_bytes = peak_memory(c);
      }
      const int64_t runs = args.runs > 0 ? args.runs : (batch == 1 ? 400 : 24);
      // Round-robin over contenders, so drift of the machine hits every one alike,
      // in bursts of calls of the same model: a serving process runs one model over
      // and over, and the first call of a burst, which finds the caches holding
      // the other contender's data, is not counted.
      const int64_t burst = std::max<int64_t>(2, args.burst);
      for (int64_t round = 0; round < args.warmup + (runs + burst - 2) / (burst - 1); ++round) {
        for (auto& c : contenders) {
          for (int64_t k = 0; k < burst; ++k) {
            const auto start = std::chrono::steady_clock::now();
            c.run();
            const double ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
            if (round >= args.warmup && k > 0) {
              c.ms.push_back(ms);
            }
          }
        }
      }
      const double base = median(contenders[0].ms);
      for (auto& c : contenders) {
        const double p50 = median(c.ms);
        results.push_back(
            {{"contender", c.name},
             {"batch", batch},
             {"threads", threads},
             {"runs", runs},
             {"p50_ms", p50},
             {"p90_ms", percentile(c.ms, 0.9)},
             {"p99_ms", percentile(c.ms, 0.99)},
             {"min_ms", *std::min_element(c.ms.begin(), c.ms.end())},
             {"images_per_s", static_cast<double>(batch) / p50 * 1000.0},
             {"speedup_vs_libtorch", base / p50},
             {"model_bytes", c.model_bytes},
             {"peak_memory_bytes", c.peak_bytes}});
      }
    }
  }
  nlohmann::json out = bench_header("infer", c10::Device(c10::kCPU), args.threads.back());
  out["model"] = args.model;
  out["quantization"] = fmt::format("W{}A{} {}", args.wbits, args.abits, args.method);
  out["input"] =
      "random images; weights from initialization (kernel speed does not depend on values)";
  out["method"] = fmt::format(
      "round-robin bursts of {} calls per contender, the first of each burst untimed",
      std::max<int64_t>(2, args.burst));
  out["results"] = results;
  if (args.json) {
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << fmt::format(
      "{} {} vs LibTorch FP32 eval (p50 over {} runs per point)\n",
      args.model,
      out["quantization"].get<std::string>(),
      results[0]["runs"].get<int64_t>());
  for (const auto& r : results) {
    std::cout << fmt::format(
        "  {:<16} batch {:>3}  threads {}  p50 {:8.3f} ms  p90 {:8.3f} ms  {:9.0f} img/s  {:6.2f}x "
        " "
        "{:>9} B model  {:>10} B peak\n",
        r["contender"].get<std::string>(),
        r["batch"].get<int64_t>(),
        r["threads"].get<int>(),
        r["p50_ms"].get<double>(),
        r["p90_ms"].get<double>(),
        r["images_per_s"].get<double>(),
        r["speedup_vs_libtorch"].get<double>(),
        r["model_bytes"].get<int64_t>(),
        r["peak_memory_bytes"].get<int64_t>());
  }
}

}  // namespace

void add_bench_infer_command(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "infer", "Time the packed engine against LibTorch FP32 eval side by side");
  auto args = std::make_shared<InferBenchArgs>();
  cmd->add_option("--model", args->model, "Model")->capture_default_str();
  cmd->add_option("--method", args->method, "Quantizer of the exported model")
      ->capture_default_str();
  cmd->add_option("--wbits", args->wbits, "Weight bits (1-4)")->capture_default_str();
  cmd->add_option("--abits", args->abits, "Activation bits (1-8)")->capture_default_str();
  cmd->add_option("--batch", args->batches, "Batch sizes")->delimiter(',')->capture_default_str();
  cmd->add_option("--threads", args->threads, "Thread counts")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--kernels", args->kernels, "Engine kernel paths to time (default: the best)")
      ->delimiter(',');
  cmd->add_option("--runs", args->runs, "Timed runs per point (0: 400 at batch 1, else 24)");
  cmd->add_option(
         "--burst",
         args->burst,
         "Consecutive calls of one contender per round; the first is not timed")
      ->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed runs first")->capture_default_str();
  cmd->add_flag(
      "--profile",
      args->profile,
      "Time each engine operation instead (first batch, thread count, path)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_option(
      "--onnx",
      args->onnx,
      "Also write the benchmarked model as ONNX to this file (scripts/bench-onnx.sh times it in "
      "ONNX Runtime)");
  cmd->callback([args] { run_infer_bench(*args); });
}

}  // namespace ewgs::cli
