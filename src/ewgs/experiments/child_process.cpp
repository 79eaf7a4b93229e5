// fork/exec with a log file and parent-death signal (include/ewgs/experiments/child_process.h).
#include "ewgs/experiments/child_process.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>

namespace ewgs::experiments {

pid_t start_process(const std::vector<std::string>& argv, const std::string& log) {
  TORCH_CHECK(!argv.empty(), "start_process: no program");
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  TORCH_CHECK(fd >= 0, "cannot open ", log, ": ", std::strerror(errno));
  // A pipe closed by a successful exec tells the parent whether the program started.
  int started[2];
  TORCH_CHECK(::pipe2(started, O_CLOEXEC) == 0, "pipe: ", std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execvp(args[0], args.data());
    const int error = errno;
    (void)!::write(started[1], &error, sizeof(error));
    ::_exit(127);
  }
  const int fork_error = errno;
  ::close(fd);
  ::close(started[1]);
  if (pid < 0) {
    ::close(started[0]);
    TORCH_CHECK(false, "cannot start ", argv[0], ": ", std::strerror(fork_error));
  }
  int exec_error = 0;
  const ssize_t got = ::read(started[0], &exec_error, sizeof(exec_error));
  ::close(started[0]);
  if (got == static_cast<ssize_t>(sizeof(exec_error))) {
    ::waitpid(pid, nullptr, 0);
    TORCH_CHECK(false, "cannot run ", argv[0], ": ", std::strerror(exec_error));
  }
  return pid;
}

int exit_code(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

int run_process(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = start_process(argv, log);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return exit_code(status);
}

std::string tail_of_file(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) {
    all.push_back(line);
  }
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "    " + all[i] + "\n";
  }
  return out;
}

}  // namespace ewgs::experiments
