// `ewgs sweep PLAN.toml`: runs the cells of a sweep plan (docs/EXPERIMENTS.md) as
// ordinary run directories, skipping finished ones and resuming interrupted ones;
// --dry-run lists the cells with their state and estimated time.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "ewgs/experiments/analysis.h"
#include "ewgs/experiments/sweep_runner.h"

namespace ewgs::cli {
namespace {

struct SweepArgs {
  std::string plan;
  std::string profile;
  std::string out;
  int parallel = 1;
  int cores = 0;
  bool dry_run = false;
  bool no_timing = false;
  std::vector<std::string> set;
};

std::string duration_text(double seconds) {
  if (seconds < 0.0) {
    return "?";
  }
  if (seconds < 120.0) {
    return fmt::format("{:.0f} s", seconds);
  }
  if (seconds < 7200.0) {
    return fmt::format("{:.0f} min", seconds / 60.0);
  }
  return fmt::format("{:.1f} h", seconds / 3600.0);
}

void dry_run(
    const experiments::SweepPlan& plan,
    const std::string& out,
    const SweepArgs& args,
    const experiments::SweepOptions& options) {
  const auto statuses = args.no_timing ? experiments::inspect_sweep(plan, out)
                                       : experiments::estimate_with_probes(plan, out, options);
  std::cout << fmt::format(
      "sweep {} ({}{}): {} cells in {}\n",
      plan.path,
      plan.title.empty() ? "untitled" : plan.title,
      plan.profile.empty() ? "" : ", profile " + plan.profile,
      statuses.size(),
      out);
  std::cout << fmt::format("{:<40} {:<8} {:>9} {:>10}\n", "cell", "state", "epochs", "time left");
  double total = 0.0;
  bool unknown = false;
  for (const auto& s : statuses) {
    std::cout << fmt::format(
        "{:<40} {:<8} {:>9} {:>10}\n",
        s.cell.dir,
        experiments::to_string(s.state),
        fmt::format("{}/{}", s.epochs_done, s.epochs),
        duration_text(s.remaining_s));
    total += std::max(s.remaining_s, 0.0);
    unknown = unknown || s.remaining_s < 0.0;
  }
  std::cout << fmt::format(
      "estimated time: {} ({} at a time){}\n",
      duration_text(total / args.parallel),
      args.parallel,
      unknown ? "; cells marked ? are not counted (run without --no-timing to measure them)" : "");
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sweep",
      "Run a sweep plan: a grid of runs over config keys, resumable (docs/EXPERIMENTS.md)");
  auto args = std::make_shared<SweepArgs>();
  cmd->add_option("plan", args->plan, "Sweep plan (configs/reproduce/ has the paper's tables)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option(
      "--profile", args->profile, "Profile of the plan, e.g. full or budget (default: full)");
  cmd->add_option("--out", args->out, "Sweep folder (default runs/sweep-<plan>[-<profile>])");
  cmd->add_option(
         "--parallel", args->parallel, "Cells trained at once; the cores are split between them")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cores", args->cores, "Cores to use (default: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option(
      "--set", args->set, "section.key=value for every cell, on top of the plan (repeatable)");
  cmd->add_flag(
      "--dry-run", args->dry_run, "List the cells, their state and estimated time; train nothing");
  cmd->add_flag(
      "--no-timing",
      args->no_timing,
      "With --dry-run: estimate only from epochs already run, without short timing runs");
  cmd->callback([args] {
    const auto plan = experiments::SweepPlan::load(args->plan, args->profile, args->set);
    const std::string out =
        !args->out.empty() ? args->out
                           : "runs/sweep-" + std::filesystem::path(args->plan).stem().string() +
                                 (plan.profile.empty() ? "" : "-" + plan.profile);
    experiments::SweepOptions options;
    options.executable = std::filesystem::read_symlink("/proc/self/exe").string();
    options.parallel = args->parallel;
    options.cores = args->cores;
    options.out = &std::cout;
    if (args->dry_run) {
      dry_run(plan, out, *args, options);
      return;
    }
    exit_status() = experiments::run_sweep(plan, out, options);
    if (exit_status() == 0) {
      std::cout << "\n"
                << experiments::to_markdown(
                       experiments::analyze(experiments::read_runs({out}), plan.baseline));
    }
  });
}

}  // namespace ewgs::cli
