// Child-process sweep runner (include/ewgs/experiments/sweep_runner.h). Each cell is
// `ewgs train` in its own process: a cell that crashes cannot take the sweep down,
// and a cell killed with the sweep resumes from its own last.pt. Children die with
// the sweep (PR_SET_PDEATHSIG), and a lock file keeps two sweeps out of one folder.
#include "ewgs/experiments/sweep_runner.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "ewgs/core/files.h"
#include "ewgs/experiments/child_process.h"
#include "ewgs/experiments/run_record.h"
#include "ewgs/train/atomic_file.h"
#include "ewgs/train/stop_signal.h"

namespace fs = std::filesystem;

namespace ewgs::experiments {
namespace {

/// The timing run of a variant: two epochs of 3 batches, the evaluation that ends
/// the second, and (Hessian cells) the delta update at its start.
const Overrides kProbeOverrides{
    {"train.epochs", "2"},
    {"train.max_batches", "3"},
    {"train.eval_every", "2"},
    {"hessian.period", "1"},
    {"hessian.period_unit", "epochs"}};

nlohmann::json manifest_of(const SweepPlan& plan) {
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& cell : plan.cells()) {
    nlohmann::json grid = nlohmann::json::object();
    for (const auto& [key, value] : cell.grid) {
      grid[key] = value;
    }
    nlohmann::json entry{{"dir", cell.dir}, {"variant", cell.variant}, {"grid", grid}};
    for (const auto& v : plan.variants) {
      if (v.name == cell.variant && v.paper_top1) {
        entry["paper_top1"] = *v.paper_top1;
      }
    }
    cells.push_back(entry);
  }
  return {
      {"title", plan.title},
      {"plan", fs::absolute(plan.path).lexically_normal().string()},
      {"base", fs::absolute(plan.base).lexically_normal().string()},
      {"profile", plan.profile},
      {"baseline",
       plan.baseline.empty() && !plan.variants.empty() ? plan.variants.front().name
                                                       : plan.baseline},
      {"cells", cells}};
}

/// Writes sweep.json, or checks that the one there lists the same cells.
void write_or_check_manifest(const SweepPlan& plan, const std::string& sweep_dir) {
  const auto manifest = manifest_of(plan);
  const std::string path = manifest_path(sweep_dir);
  if (fs::exists(path)) {
    const auto existing = read_json_file(path);
    TORCH_CHECK(
        existing.value("cells", nlohmann::json()) == manifest["cells"] &&
            existing.value("profile", "") == manifest["profile"],
        sweep_dir,
        " holds a sweep of other cells (",
        existing.value("plan", "?"),
        ", profile '",
        existing.value("profile", ""),
        "'); run this plan in another folder");
  }
  train::write_file_atomically(path, manifest.dump(2) + "\n");
}

/// An exclusive lock on <sweep>/.lock for the runner's lifetime. Its cells inherit
/// the descriptor, so a sweep killed outright keeps the folder locked until its
/// cells have checkpointed and exited too.
class SweepLock {
 public:
  explicit SweepLock(const std::string& sweep_dir) {
    const std::string path = (fs::path(sweep_dir) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    TORCH_CHECK(fd_ >= 0, "cannot open ", path, ": ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      TORCH_CHECK(
          false,
          "another ewgs sweep, or cells of a stopped one, are running in ",
          sweep_dir,
          "; start it again when they have ended");
    }
  }
  ~SweepLock() { ::close(fd_); }
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  int fd_ = -1;
};

/// LibTorch threads of each cell: the cores split between the cells run at once.
int threads_per_cell(const SweepOptions& options) {
  const int cores =
      options.cores > 0 ? options.cores : static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / std::max(1, options.parallel));
}

/// Measured costs of one variant: seconds per training image, per evaluation and
/// per delta update, averaged over what its runs recorded so far.
struct Costs {
  double image_s = 0.0;
  double eval_s = 0.0;
  double update_s = 0.0;
  int epochs = 0;
  int evals = 0;
  int updates = 0;
  int64_t batches_per_epoch = 0;

  void add(const RunRecord& run) {
    for (const auto& e : run.epochs) {
      if (e.value("images_per_s", 0.0) > 0.0) {
        image_s += 1.0 / e["images_per_s"].get<double>();
        epochs += 1;
      }
      if (e.contains("eval_time_s")) {
        eval_s += e["eval_time_s"].get<double>();
        evals += 1;
      }
      batches_per_epoch = e.value("batches_per_epoch", batches_per_epoch);
    }
    for (const auto& u : run.delta_updates) {
      update_s += u.value("wall_s", 0.0);
      updates += 1;
    }
  }

  /// Seconds for epochs [from, config.train_epochs) of `config`.
  double seconds(const train::TrainConfig& config, int64_t from) const {
    const int64_t batches = config.train_max_batches > 0
                                ? std::min(config.train_max_batches, batches_per_epoch)
                                : batches_per_epoch;
    double total = 0.0;
    for (int64_t e = from; e < config.train_epochs; ++e) {
      total += static_cast<double>(batches * config.train_batch_size) * image_s / epochs;
      if ((e + 1) % config.train_eval_every == 0 || e + 1 == config.train_epochs) {
        total += evals > 0 ? eval_s / evals : 0.0;
      }
      if (config.hessian_delta() && updates > 0) {
        const double per_epoch =
            config.hessian_period_unit == "epochs"
                ? (e > 0 && e % config.hessian_period == 0 ? 1.0 : 0.0)
                : static_cast<double>(batches) / static_cast<double>(config.hessian_period);
        total += per_epoch * update_s / updates;
      }
    }
    return total;
  }
};

void fill_estimates(
    const SweepPlan& plan,
    std::vector<CellStatus>& statuses,
    const std::map<std::string, RunRecord>& measured) {
  std::map<std::string, Costs> costs;
  for (const auto& [variant, run] : measured) {
    costs[variant].add(run);
  }
  for (auto& s : statuses) {
    const auto c = costs.find(s.cell.variant);
    if (s.state == CellState::kDone || s.state == CellState::kFailed) {
      s.remaining_s = 0.0;
    } else if (c != costs.end() && c->second.epochs > 0) {
      s.remaining_s = c->second.seconds(plan.config_of(s.cell), s.epochs_done);
    }
  }
}

std::string log_path(const std::string& sweep_dir, const SweepCell& cell) {
  std::string name = cell.dir;
  std::replace(name.begin(), name.end(), '/', '~');
  return (fs::path(sweep_dir) / "logs" / (name + ".log")).string();
}

std::vector<std::string> train_argv(
    const SweepPlan& plan,
    const CellStatus& s,
    const std::string& cell_dir,
    const SweepOptions& options,
    int threads) {
  std::vector<std::string> argv{options.executable, "train", "--json"};
  if (s.state == CellState::kPartial) {
    argv.insert(argv.end(), {"--resume", cell_dir});
  } else {
    argv.insert(argv.end(), {"--config", plan.base, "--run-dir", cell_dir});
    for (const auto& [key, value] : s.cell.overrides) {
      argv.push_back("--" + key + "=" + value);
    }
  }
  argv.push_back("--run.threads=" + std::to_string(threads));
  return argv;
}

}  // namespace

const char* to_string(CellState state) {
  switch (state) {
    case CellState::kNew:
      return "new";
    case CellState::kPartial:
      return "partial";
    case CellState::kDone:
      return "done";
    case CellState::kFailed:
      return "failed";
  }
  return "?";
}

std::string manifest_path(const std::string& sweep_dir) {
  return (fs::path(sweep_dir) / "sweep.json").string();
}

std::vector<CellStatus> inspect_sweep(const SweepPlan& plan, const std::string& sweep_dir) {
  std::vector<CellStatus> out;
  std::map<std::string, RunRecord> measured;
  for (const auto& cell : plan.cells()) {
    CellStatus s;
    s.cell = cell;
    s.epochs = plan.config_of(cell).train_epochs;
    const fs::path dir = fs::path(sweep_dir) / cell.dir;
    if (fs::exists(dir / "summary.json")) {
      const auto summary = read_json_file((dir / "summary.json").string());
      const std::string status = summary.value("status", "");
      s.epochs_done = summary.value("epochs_done", int64_t{0});
      s.state = status == "completed"                                      ? CellState::kDone
                : (status == "interrupted" && fs::exists(dir / "last.pt")) ? CellState::kPartial
                : status == "interrupted"                                  ? CellState::kNew
                                                                           : CellState::kFailed;
    } else if (fs::exists(dir / "last.pt")) {
      s.state = CellState::kPartial;
    }
    if (fs::exists(dir / "metrics.jsonl")) {
      auto record = read_run(dir.string());
      if (s.state == CellState::kPartial) {
        s.epochs_done = static_cast<int64_t>(record.epochs.size());
      }
      auto& slot = measured[cell.variant];
      slot.epochs.insert(slot.epochs.end(), record.epochs.begin(), record.epochs.end());
      slot.delta_updates.insert(
          slot.delta_updates.end(), record.delta_updates.begin(), record.delta_updates.end());
    }
    out.push_back(std::move(s));
  }
  fill_estimates(plan, out, measured);
  return out;
}

std::vector<CellStatus> estimate_with_probes(
    const SweepPlan& plan, const std::string& sweep_dir, const SweepOptions& options) {
  auto statuses = inspect_sweep(plan, sweep_dir);
  std::map<std::string, RunRecord> measured;
  // Removed however the timing runs end.
  const ScopedFolder scratch_folder(
      (fs::temp_directory_path() / fmt::format("ewgs-sweep-probe-{}", ::getpid())).string());
  const fs::path scratch = scratch_folder.path();
  for (const auto& s : statuses) {
    if (s.remaining_s >= 0.0 || measured.count(s.cell.variant)) {
      continue;
    }
    CellStatus probe = s;
    probe.state = CellState::kNew;
    for (const auto& [key, value] : kProbeOverrides) {
      probe.cell.overrides.emplace_back(key, value);
    }
    const std::string dir = (scratch / std::to_string(measured.size())).string();
    auto argv = train_argv(plan, probe, dir, options, threads_per_cell(options));
    if (options.out) {
      *options.out
          << "timing " << s.cell.dir
          << ": two epochs of 3 batches, one evaluation, one delta update if it has them\n";
    }
    TORCH_CHECK(
        run_process(argv, (scratch / "probe.log").string()) == 0,
        "the timing run of ",
        s.cell.dir,
        " failed:\n",
        tail_of_file((scratch / "probe.log").string()));
    measured[s.cell.variant] = read_run(dir);
  }
  if (!measured.empty()) {
    fill_estimates(plan, statuses, measured);
  }
  return statuses;
}

int run_sweep(const SweepPlan& plan, const std::string& sweep_dir, const SweepOptions& options) {
  TORCH_CHECK(options.parallel >= 1, "sweep: --parallel must be >= 1, got ", options.parallel);
  fs::create_directories(fs::path(sweep_dir) / "logs");
  SweepLock lock(sweep_dir);
  write_or_check_manifest(plan, sweep_dir);
  const int threads = threads_per_cell(options);
  std::ostream& out = options.out ? *options.out : std::cout;

  std::vector<CellStatus> pending;
  for (auto& s : inspect_sweep(plan, sweep_dir)) {
    if (s.state == CellState::kNew || s.state == CellState::kPartial) {
      pending.push_back(std::move(s));
    }
  }
  const size_t total = plan.cells().size();
  out << fmt::format(
      "sweep {}: {} cells, {} to run, {} at a time with {} threads each\n",
      sweep_dir,
      total,
      pending.size(),
      options.parallel,
      threads);

  train::StopSignalGuard signals;
  std::map<pid_t, CellStatus> running;
  std::vector<std::string> failed;
  size_t next = 0;
  bool stopping = false;
  while (next < pending.size() || !running.empty()) {
    if (!stopping && train::StopSignalGuard::received()) {
      stopping = true;
      out << "stopping: the running cells checkpoint and stop; run the sweep again to continue\n";
      for (const auto& [pid, s] : running) {
        ::kill(pid, SIGTERM);
      }
    }
    while (!stopping && next < pending.size() &&
           static_cast<int>(running.size()) < options.parallel) {
      auto& s = pending[next++];
      const fs::path dir = fs::path(sweep_dir) / s.cell.dir;
      if (s.state == CellState::kNew && fs::exists(dir)) {
        fs::remove_all(dir);  // no checkpoint: nothing of it can be continued
      }
      fs::create_directories(dir.parent_path());
      out << fmt::format(
          "{} {} ({})\n",
          s.state == CellState::kPartial ? "resuming" : "starting",
          s.cell.dir,
          log_path(sweep_dir, s.cell));
      out.flush();
      running.emplace(
          start_process(
              train_argv(plan, s, dir.string(), options, threads), log_path(sweep_dir, s.cell)),
          s);
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const auto it = running.find(pid);
    if (it == running.end()) {
      continue;
    }
    const auto cell = it->second.cell;
    running.erase(it);
    const int code = exit_code(status);
    if (code == 0) {
      const auto run = read_run((fs::path(sweep_dir) / cell.dir).string());
      out << fmt::format(
          "done {}: test top-1 {:.2f}%\n", cell.dir, run.summary.value("final_top1", -1.0));
    } else if (!(stopping && code == 130)) {
      failed.push_back(cell.dir);
      out << fmt::format(
          "FAILED {} (exit status {}); its log ends:\n{}",
          cell.dir,
          code,
          tail_of_file(log_path(sweep_dir, cell)));
    }
    out.flush();
  }
  if (stopping) {
    return 130;
  }
  if (!failed.empty()) {
    out << fmt::format(
        "{} of {} cells failed: {}\n", failed.size(), total, fmt::join(failed, ", "));
    return 1;
  }
  out << fmt::format("sweep {}: all {} cells done\n", sweep_dir, total);
  return 0;
}

}  // namespace ewgs::experiments
