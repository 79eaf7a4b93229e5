// `ewgs train`: runs a training job from a TOML config plus --section.key=value
// overrides, or continues one with --resume, in one process or --nproc ranks;
// exit 130 when interrupted, 1 on failure.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "ewgs/dist/launch_env.h"
#include "ewgs/dist/local_launcher.h"
#include "ewgs/train/stop_signal.h"
#include "ewgs/train/trainer.h"

namespace ewgs::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::string run_dir;
  std::string resume;
  bool json = false;
  bool list_keys = false;
  int64_t nproc = 0;
};

/// runs/<config name>-<local time>, e.g. runs/fmnist_fp-20261122-193000.
std::string default_run_dir(const std::string& config_path) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  const std::string stem =
      config_path.empty() ? "run" : std::filesystem::path(config_path).stem().string();
  return "runs/" + stem + "-" + stamp;
}

void train_or_resume(const TrainArgs& args, const std::vector<std::string>& overrides) {
  train::TrainerOptions options;
  options.json = args.json;
  options.out = &std::cout;
  std::unique_ptr<train::Trainer> trainer;
  if (!args.resume.empty()) {
    TORCH_CHECK(args.config.empty(), "--resume continues a run with its own config; drop --config");
    trainer = train::Trainer::resume(args.resume, overrides, options);
  } else {
    train::TrainConfig config;
    if (!args.config.empty()) {
      config.apply_file(args.config);
    }
    for (const auto& o : overrides) {
      config.apply_override(o);
    }
    const std::string dir = args.run_dir.empty() ? default_run_dir(args.config) : args.run_dir;
    trainer = std::make_unique<train::Trainer>(config, dir, options);
  }
  const auto result = trainer->run();
  // Ranks of a multi-process run end alike; rank 0 speaks for them.
  const bool leader = dist::LaunchEnv::from_environment().rank == 0;
  if (!result.message.empty() && leader) {
    std::cerr << result.message << "\n";
  }
  if (result.status == "completed" && leader) {
    std::cout
        << (args.json ? result.to_json().dump() + "\n"
                      : fmt::format(
                            "done: {} epochs, test top-1 {:.2f}% (best {:.2f}%), {:.1f}s\n",
                            result.epochs_done,
                            result.final_top1,
                            result.best_top1,
                            result.wall_s));
  }
  exit_status() = result.status == "completed" ? 0 : (result.status == "interrupted" ? 130 : 1);
}

/// `ewgs train` again, once per rank, with the run directory fixed here (a
/// default one is named by the time, which the ranks must agree on).
int launch_ranks(const TrainArgs& args, const std::vector<std::string>& overrides) {
  dist::LocalLaunch launch;
  launch.nproc = args.nproc;
  launch.argv = {"/proc/self/exe", "train"};
  if (!args.resume.empty()) {
    launch.argv.insert(launch.argv.end(), {"--resume", args.resume});
  } else {
    if (!args.config.empty()) {
      launch.argv.insert(launch.argv.end(), {"--config", args.config});
    }
    launch.argv.insert(
        launch.argv.end(),
        {"--run-dir", args.run_dir.empty() ? default_run_dir(args.config) : args.run_dir});
  }
  if (args.json) {
    launch.argv.emplace_back("--json");
  }
  for (const auto& o : overrides) {
    launch.argv.push_back("--" + o);
  }
  launch.stop_requested = [] { return train::StopSignalGuard::received() != 0; };
  return dist::run_local_ranks(launch);
}

void run_training(const TrainArgs& args, const std::vector<std::string>& overrides) {
  // From here on SIGINT/SIGTERM stop the command with a message, never silently.
  train::StopSignalGuard signals;
  if (args.nproc > 0) {
    TORCH_CHECK(
        std::getenv("WORLD_SIZE") == nullptr,
        "--nproc starts its own ranks; it cannot run under a launcher that set WORLD_SIZE");
    exit_status() = launch_ranks(args, overrides);
    return;
  }
  try {
    train_or_resume(args, overrides);
  } catch (const train::StopRequested& stop) {
    std::cerr << stop.what() << "\n";
    exit_status() = 130;
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train",
      "Train from a TOML config; any --section.key=value overrides a key (see --list-keys)");
  auto args = std::make_shared<TrainArgs>();
  cmd->add_option("--config", args->config, "TOML config file (configs/ has the paper's recipes)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--run-dir", args->run_dir, "Run directory (default runs/<config>-<time>)");
  cmd->add_option(
         "--resume", args->resume, "Continue the run in this directory from its last checkpoint")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--json", args->json, "One JSON object per epoch instead of a progress bar");
  cmd->add_flag("--list-keys", args->list_keys, "List every config key with its default and exit");
  cmd->add_option(
         "--nproc",
         args->nproc,
         "Train with N processes on this machine (data parallel, Gloo or NCCL); without it the "
         "RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT variables of torchrun-style launchers are "
         "honoured")
      ->check(CLI::Range(1, 1024));
  cmd->allow_extras();
  cmd->callback([cmd, args] {
    if (args->list_keys) {
      std::cout << "config keys (TOML [section] key = value, or --section.key=value):\n"
                << train::TrainConfig::schema().describe(train::TrainConfig());
      return;
    }
    run_training(*args, collect_overrides(cmd->remaining()));
  });
}

}  // namespace ewgs::cli
