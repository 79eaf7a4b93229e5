// Child processes for tests (subprocess.h): fork, exec, wait with a deadline.
#include "support/subprocess.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ewgs::test {
namespace {
namespace fs = std::filesystem;

std::string read_and_remove(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::error_code ignored;
  fs::remove(path, ignored);
  return text;
}

}  // namespace

ProcessResult run_process(
    const std::string& program, const std::vector<std::string>& args, int timeout_s) {
  static std::atomic<int> counter{0};
  const auto stem = fs::temp_directory_path() / ("ewgs_process_" + std::to_string(::getpid()) +
                                                 "_" + std::to_string(counter++));
  const auto out_path = stem.string() + ".out";
  const auto err_path = stem.string() + ".err";
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (std::freopen(out_path.c_str(), "w", stdout) == nullptr ||
        std::freopen(err_path.c_str(), "w", stderr) == nullptr) {
      ::_exit(125);
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ProcessResult result;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status)) {
    result.status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  result.stdout_text = read_and_remove(out_path);
  result.stderr_text = read_and_remove(err_path);
  return result;
}

}  // namespace ewgs::test
