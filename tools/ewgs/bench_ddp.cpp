// `ewgs bench ddp`: data-parallel training on the CPU side by side in one run: one
// process with every core, one process with one thread, and one rank per core
// (`ewgs train --nproc`), each an ordinary training run whose metrics are read back.
#include <fmt/format.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <thread>

#include "bench_util.h"
#include "commands.h"
#include "ewgs/core/data_dir.h"
#include "ewgs/core/files.h"
#include "ewgs/experiments/child_process.h"
#include "ewgs/experiments/run_record.h"

namespace ewgs::cli {
namespace {

namespace fs = std::filesystem;

struct DdpBenchArgs {
  std::string config = "configs/resnet20_cifar10_w1a1_ewgs.toml";
  std::string data_root = data_dir() + "/cifar10-jpeg.tar.gz";
  int64_t steps = 20;
  int64_t hessian_batches = 1;
  int64_t hessian_batch_size = 128;
  int64_t ranks = 0;
  int64_t repeats = 3;
  bool json = false;
};

/// One way to spend the machine's cores on the same training.
struct Layout {
  std::string name;
  int64_t ranks;
  int64_t threads_per_rank;
};

/// What one run measured: its first epoch (no Hessian update in it) and the
/// update at the start of the second.
struct Measurement {
  double images_per_s = 0.0;
  double allreduce_s_per_step = 0.0;
  double hessian_s = 0.0;
  int64_t hessian_probes = 0;
};

/// The run's first epoch record and its first delta update, as `ewgs report` reads them.
Measurement read_measurement(const fs::path& run, int64_t steps) {
  const auto record = experiments::read_run(run.string());
  TORCH_CHECK(
      !record.epochs.empty() && !record.delta_updates.empty(),
      "bench ddp: ",
      (run / "metrics.jsonl").string(),
      " lacks the first epoch's record or the delta update");
  const auto& epoch = record.epochs.front();
  const auto& update = record.delta_updates.front();
  Measurement m;
  m.images_per_s = epoch.at("images_per_s").get<double>();
  m.allreduce_s_per_step = epoch.value("gradient_allreduce_s", 0.0) / static_cast<double>(steps);
  m.hessian_s = update.at("wall_s").get<double>();
  for (const auto& q : update.at("quantizers")) {
    m.hessian_probes += q.at("probes").get<int64_t>();
  }
  return m;
}

Measurement run_layout(const DdpBenchArgs& args, const Layout& layout, const fs::path& dir) {
  // Two epochs of `steps` steps: the first is timed, the second starts with a
  // Hessian delta update (hessian.period = 1 epoch); one evaluation at the end.
  std::vector<std::string> argv = {
      "/proc/self/exe",
      "train",
      "--config",
      args.config,
      "--run-dir",
      dir.string(),
      "--json",
      "--data.root=" + args.data_root,
      "--quant.delta=hessian",
      "--hessian.period=1",
      "--hessian.period_unit=epochs",
      "--hessian.batches=" + std::to_string(args.hessian_batches),
      "--hessian.batch_size=" + std::to_string(args.hessian_batch_size),
      "--train.epochs=2",
      "--train.eval_every=2",
      "--train.max_batches=" + std::to_string(args.steps),
      "--data.workers=1",
      "--run.threads=" + std::to_string(layout.threads_per_rank)};
  if (layout.ranks > 1) {
    argv.insert(argv.begin() + 2, {"--nproc", std::to_string(layout.ranks)});
  }
  const std::string log = dir.string() + ".log";
  const int status = experiments::run_process(argv, log);
  TORCH_CHECK(
      status == 0,
      "bench ddp: ",
      layout.name,
      " failed with status ",
      status,
      "; the end of ",
      log,
      ":\n",
      experiments::tail_of_file(log, 20));
  return read_measurement(dir, args.steps);
}

nlohmann::json summary(const std::vector<double>& values) {
  return {
      {"median", median(values)},
      {"min", *std::min_element(values.begin(), values.end())},
      {"max", *std::max_element(values.begin(), values.end())},
      {"values", values}};
}

void run_ddp_bench(const DdpBenchArgs& args) {
  const auto cores = static_cast<int64_t>(std::max(1U, std::thread::hardware_concurrency()));
  const int64_t ranks = args.ranks > 0 ? args.ranks : cores;
  TORCH_CHECK(
      ranks >= 2,
      "bench ddp: --ranks must be at least 2, got ",
      ranks,
      " (this machine has ",
      cores,
      " cores)");
  const std::vector<Layout> layouts = {
      {fmt::format("1 process x {} threads", ranks), 1, ranks},
      {"1 process x 1 thread", 1, 1},
      {fmt::format("{} ranks x 1 thread", ranks), ranks, 1}};
  // Removed however the benchmark ends.
  const ScopedFolder scratch_folder(
      (fs::temp_directory_path() / ("ewgs-bench-ddp-" + std::to_string(::getpid()))).string());
  const fs::path scratch = scratch_folder.path();
  // Layouts interleaved within each repeat, so a slow spell of the machine
  // falls on all of them.
  std::vector<std::vector<Measurement>> measured(layouts.size());
  for (int64_t r = 0; r < args.repeats; ++r) {
    for (size_t i = 0; i < layouts.size(); ++i) {
      const auto dir = scratch / fmt::format("layout{}_repeat{}", i, r);
      measured[i].push_back(run_layout(args, layouts[i], dir));
      if (!args.json) {
        std::cerr << fmt::format(
            "{} (repeat {}): {:.1f} images/s, Hessian update {:.1f} s\n",
            layouts[i].name,
            r + 1,
            measured[i].back().images_per_s,
            measured[i].back().hessian_s);
      }
    }
  }

  nlohmann::json out = bench_header("ddp", c10::Device(c10::kCPU), cores);
  out["config"] = args.config;
  out["steps"] = args.steps;
  out["hessian_batches"] = args.hessian_batches;
  out["hessian_batch_size"] = args.hessian_batch_size;
  out["repeats"] = args.repeats;
  nlohmann::json rows = nlohmann::json::array();
  std::vector<double> throughput;
  std::vector<double> hessian;
  std::vector<double> probe_time;
  for (size_t i = 0; i < layouts.size(); ++i) {
    std::vector<double> images;
    std::vector<double> allreduce;
    std::vector<double> update;
    std::vector<double> probes;
    std::vector<double> per_probe;
    for (const auto& m : measured[i]) {
      images.push_back(m.images_per_s);
      allreduce.push_back(m.allreduce_s_per_step);
      update.push_back(m.hessian_s);
      probes.push_back(static_cast<double>(m.hessian_probes));
      per_probe.push_back(
          m.hessian_s / static_cast<double>(std::max<int64_t>(1, m.hessian_probes)));
    }
    throughput.push_back(median(images));
    hessian.push_back(median(update));
    probe_time.push_back(median(per_probe));
    rows.push_back(
        {{"layout", layouts[i].name},
         {"ranks", layouts[i].ranks},
         {"threads_per_rank", layouts[i].threads_per_rank},
         {"images_per_s", summary(images)},
         {"allreduce_s_per_step", summary(allreduce)},
         {"hessian_update_s", summary(update)},
         {"hessian_probes", summary(probes)},
         {"hessian_s_per_probe", summary(per_probe)}});
  }
  out["layouts"] = rows;
  out["ranks_vs_one_thread_images_per_s"] = throughput[2] / throughput[1];
  out["ranks_vs_all_threads_images_per_s"] = throughput[2] / throughput[0];
  out["ranks_vs_one_thread_hessian_speedup"] = hessian[1] / hessian[2];
  out["ranks_vs_all_threads_hessian_speedup"] = hessian[0] / hessian[2];
  out["ranks_vs_one_thread_probe_speedup"] = probe_time[1] / probe_time[2];
  out["ranks_vs_all_threads_probe_speedup"] = probe_time[0] / probe_time[2];
  if (args.json) {
    std::cout << out.dump() << "\n";
    return;
  }
  for (size_t i = 0; i < layouts.size(); ++i) {
    std::cout << fmt::format(
        "{:<24} {:8.1f} images/s   Hessian update {:6.1f} s, {:.3f} s per probe\n",
        layouts[i].name,
        throughput[i],
        hessian[i],
        probe_time[i]);
  }
  std::cout << fmt::format(
      "{} ranks against 1 thread and {} threads: images/s {:.2f}x and {:.2f}x; Hessian update "
      "{:.2f}x and {:.2f}x "
      "as fast, per probe {:.2f}x and {:.2f}x\n",
      ranks,
      ranks,
      out["ranks_vs_one_thread_images_per_s"].get<double>(),
      out["ranks_vs_all_threads_images_per_s"].get<double>(),
      out["ranks_vs_one_thread_hessian_speedup"].get<double>(),
      out["ranks_vs_all_threads_hessian_speedup"].get<double>(),
      out["ranks_vs_one_thread_probe_speedup"].get<double>(),
      out["ranks_vs_all_threads_probe_speedup"].get<double>());
}

}  // namespace

void add_bench_ddp_command(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "ddp",
      "Training images/s and Hessian update time: one process vs one rank per core (ewgs train "
      "--nproc)");
  auto args = std::make_shared<DdpBenchArgs>();
  cmd->add_option(
         "--config", args->config, "Training recipe (an EWGS model; from its train.init_from)")
      ->capture_default_str();
  cmd->add_option("--data-root", args->data_root, "Its dataset (archive or folder)")
      ->capture_default_str();
  cmd->add_option("--steps", args->steps, "Timed training steps per run")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_option("--hessian-batches", args->hessian_batches, "Batches of the Hessian update")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}))
      ->capture_default_str();
  cmd->add_option("--hessian-batch-size", args->hessian_batch_size, "Their batch size")
      ->check(CLI::Range(int64_t{2}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_option("--ranks", args->ranks, "Ranks of the data-parallel run (0: one per core)")
      ->capture_default_str();
  cmd->add_option("--repeats", args->repeats, "Runs of each layout")
      ->check(CLI::Range(int64_t{1}, int64_t{100}))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run_ddp_bench(*args); });
}

}  // namespace ewgs::cli
