// `ewgs bench quantizer`: bandwidth of the fused quantizer kernels (forward,
// backward) and of the composite reference, next to a plain copy of the same
// bytes on the same device.
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <iostream>

#include "bench_util.h"
#include "commands.h"
#include "ewgs/core/threads.h"
#include "ewgs/kernels/interval_quant.h"
#include "ewgs/quant/fused_kernels.h"
#include "ewgs/quant/interval_quantizer.h"

namespace ewgs::cli {
namespace {

struct QuantizerArgs {
  int64_t elements = int64_t{1} << 24;
  int64_t bits = 1;
  std::string device = "cpu";
  int64_t threads = 0;
  int64_t repeats = 0;
  bool json = false;
};

/// Median milliseconds of `fn` over `repeats` runs after two warm-ups.
double time_ms(const std::function<void()>& fn, int64_t repeats, const c10::Device& device) {
  std::vector<double> ms;
  for (int64_t i = 0; i < repeats + 2; ++i) {
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    fn();
    synchronize(device);
    if (i >= 2) {
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
  }
  return median(ms);
}

void run_quantizer_bench(const QuantizerArgs& args) {
  const auto device = parse_device(args.device);
  const int64_t threads = set_cpu_threads(args.threads);
  const int64_t repeats = args.repeats > 0 ? args.repeats : (device.is_cuda() ? 100 : 10);
  const int64_t n = args.elements;
  const auto options = torch::TensorOptions().device(device);
  const auto x = torch::randn({n}, options).abs();
  const auto g = torch::randn({n}, options);
  auto y = torch::empty_like(x);
  const auto lower = torch::zeros({}, options);
  const auto upper = torch::full({}, 2.0f, options);
  const auto delta = torch::full({}, 1e-3f, options);
  const int64_t steps = (int64_t{1} << args.bits) - 1;
  const double bytes = 4.0 * static_cast<double>(n);
  auto gbps = [](double moved, double ms) { return moved / (ms * 1e6); };

  const double copy_ms = time_ms([&] { y.copy_(x); }, repeats, device);
  const double forward_ms = time_ms(
      [&] { kernels::interval_quant_forward(x, lower, upper, steps, false, "bench"); },
      repeats,
      device);
  const double backward_ms = time_ms(
      [&] { kernels::interval_quant_backward(g, x, lower, upper, delta, steps, false); },
      repeats,
      device);
  // The composite reference, forward and backward through autograd.
  auto q = std::make_shared<quant::IntervalQuantizerImpl>(
      quant::IntervalQuantizerOptions("ewgs", quant::QuantTarget::kActivation, args.bits)
          .delta(1e-3));
  q->to(device);
  {
    torch::NoGradGuard no_grad;
    q->upper.fill_(2.0);
  }
  const auto xg = x.clone().requires_grad_(true);
  quant::set_fused_kernels(false);
  const double composite_ms = time_ms([&] { q->forward(xg).backward(g); }, repeats, device);
  quant::set_fused_kernels(true);

  const double copy_gbps = gbps(2 * bytes, copy_ms);
  nlohmann::json out = bench_header("quantizer", device, threads);
  out["elements"] = n;
  out["bits"] = args.bits;
  out["copy_gbps"] = copy_gbps;
  out["forward_ms"] = forward_ms;
  out["forward_gbps"] = gbps(2 * bytes, forward_ms);  // read x, write out
  out["forward_fraction_of_copy"] = gbps(2 * bytes, forward_ms) / copy_gbps;
  out["backward_ms"] = backward_ms;
  out["backward_gbps"] = gbps(3 * bytes, backward_ms);  // read g and x, write grad_x
  out["backward_fraction_of_copy"] = gbps(3 * bytes, backward_ms) / copy_gbps;
  out["composite_forward_backward_ms"] = composite_ms;
  out["fused_speedup_over_composite"] = composite_ms / (forward_ms + backward_ms);
  if (args.json) {
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << fmt::format(
      "{} elements, {} bit(s), {} ({} threads)\n"
      "  copy      {:8.3f} ms  {:7.1f} GB/s\n"
      "  forward   {:8.3f} ms  {:7.1f} GB/s  ({:.0f} % of copy)\n"
      "  backward  {:8.3f} ms  {:7.1f} GB/s  ({:.0f} % of copy)\n"
      "  composite forward+backward {:8.3f} ms ({:.1f}x the fused pair)\n",
      n,
      args.bits,
      args.device,
      threads,
      copy_ms,
      copy_gbps,
      forward_ms,
      out["forward_gbps"].get<double>(),
      100 * out["forward_fraction_of_copy"].get<double>(),
      backward_ms,
      out["backward_gbps"].get<double>(),
      100 * out["backward_fraction_of_copy"].get<double>(),
      composite_ms,
      out["fused_speedup_over_composite"].get<double>());
}

}  // namespace

void add_bench_quantizer_command(CLI::App& bench) {
  auto* cmd =
      bench.add_subcommand("quantizer", "Bandwidth of the fused quantizer kernels next to a copy");
  auto args = std::make_shared<QuantizerArgs>();
  cmd->add_option("--elements", args->elements, "Tensor elements")->capture_default_str();
  cmd->add_option("--bits", args->bits, "Bit-width")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  cmd->add_option("--device", args->device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_option("--repeats", args->repeats, "Timed repeats (0: 10 on CPU, 100 on CUDA)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run_quantizer_bench(*args); });
}

}  // namespace ewgs::cli
