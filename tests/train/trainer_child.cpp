// A training process for the kill and disk-full tests: trains or resumes a tiny
// run and can kill itself with SIGKILL at a chosen write, or run under a file-size
// limit. Exit status: 0 completed, 1 error, 3 the kill point was never reached.
//
//   trainer_child DATA RUN_DIR EPOCHS [--resume] [--kill-at=FILE:STAGE:N]
//                 [--log-writes=PATH] [--file-size-limit=BYTES]
// STAGE is starting, written or published (atomic_file.h); N counts from 1.
#include <c10/util/Exception.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "ewgs/train/trainer.h"
#include "train/train_test_util.h"

namespace {

const char* stage_name(ewgs::train::WriteStage stage) {
  switch (stage) {
    case ewgs::train::WriteStage::kStarting:
      return "starting";
    case ewgs::train::WriteStage::kTemporaryWritten:
      return "written";
    case ewgs::train::WriteStage::kPublished:
      return "published";
  }
  return "?";
}

std::string option(const std::string& arg, const std::string& name) {
  return arg.rfind(name, 0) == 0 ? arg.substr(name.size()) : "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: trainer_child DATA RUN_DIR EPOCHS [--resume] [--kill-at=FILE:STAGE:N] "
                 "[--log-writes=PATH] [--file-size-limit=BYTES]\n";
    return 2;
  }
  const std::string data = argv[1];
  const std::string run_dir = argv[2];
  const int64_t epochs = std::stoll(argv[3]);
  bool resume = false;
  std::string kill_at;
  std::string log_path;
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    resume = resume || arg == "--resume";
    if (!option(arg, "--kill-at=").empty()) {
      kill_at = option(arg, "--kill-at=");
    }
    if (!option(arg, "--log-writes=").empty()) {
      log_path = option(arg, "--log-writes=");
    }
    if (!option(arg, "--file-size-limit=").empty()) {
      std::signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG, as on a full disk
      const rlim_t bytes = std::stoull(option(arg, "--file-size-limit="));
      const struct rlimit limit { bytes, bytes };
      setrlimit(RLIMIT_FSIZE, &limit);
    }
  }
  std::map<std::string, int> seen;
  std::ofstream log;
  if (!log_path.empty()) {
    log.open(log_path);
  }
  ewgs::train::TrainerOptions options;
  std::ostringstream progress;
  options.json = true;
  options.out = &progress;
  options.on_write = [&](const std::string& path, ewgs::train::WriteStage stage) {
    const std::string event =
        std::filesystem::path(path).filename().string() + ":" + stage_name(stage);
    const int count = ++seen[event];
    if (log.is_open()) {
      log << event << ":" << count << std::endl;
    }
    if (event + ":" + std::to_string(count) == kill_at) {
      std::raise(SIGKILL);
    }
  };
  try {
    auto result = resume ? ewgs::train::Trainer::resume(
                               run_dir, {"train.epochs=" + std::to_string(epochs)}, options)
                               ->run()
                         : ewgs::train::Trainer(
                               ewgs::test::tiny_folder_config(data, epochs), run_dir, options)
                               .run();
    if (result.status != "completed") {
      std::cerr << result.status << ": " << result.message << "\n";
      return 1;
    }
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return kill_at.empty() ? 0 : 3;
}
