// Local ranks of a multi-process run (include/ewgs/dist/local_launcher.h).
#include "ewgs/dist/local_launcher.h"

#include <arpa/inet.h>
#include <c10/util/Exception.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

extern char** environ;

namespace ewgs::dist {
namespace {

/// This process's environment with the launcher variables of `rank` replacing any inherited ones.
std::vector<std::string> rank_environment(int64_t rank, int64_t world, int port) {
  std::vector<std::string> env;
  const std::vector<std::pair<std::string, std::string>> set = {
      {"RANK", std::to_string(rank)},
      {"LOCAL_RANK", std::to_string(rank)},
      {"WORLD_SIZE", std::to_string(world)},
      {"LOCAL_WORLD_SIZE", std::to_string(world)},
      {"MASTER_ADDR", "127.0.0.1"},
      {"MASTER_PORT", std::to_string(port)}};
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : set) {
      replaced = replaced || entry.rfind(name + "=", 0) == 0;
    }
    if (!replaced) {
      env.push_back(entry);
    }
  }
  for (const auto& [name, value] : set) {
    env.push_back(name + "=" + value);
  }
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

int exit_status_of(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  TORCH_CHECK(fd >= 0, "cannot open a socket to find a free port: ", std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  ::close(fd);
  TORCH_CHECK(ok, "cannot find a free port on 127.0.0.1: ", std::strerror(error));
  return ntohs(address.sin_port);
}

int run_local_ranks(const LocalLaunch& launch) {
  TORCH_CHECK(!launch.argv.empty(), "run_local_ranks: no program");
  TORCH_CHECK(
      launch.nproc >= 1 && launch.nproc <= 1024,
      "--nproc must be in [1, 1024], got ",
      launch.nproc);
  const int port = free_loopback_port();
  std::vector<pid_t> ranks;
  const pid_t parent = ::getpid();
  for (int64_t r = 0; r < launch.nproc; ++r) {
    auto args = launch.argv;
    auto env = rank_environment(r, launch.nproc, port);
    auto argp = pointers(args);
    auto envp = pointers(env);
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Only async-signal-safe calls until exec; a rank never outlives the launcher.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) {
        ::_exit(127);
      }
      ::execve(argp[0], argp.data(), envp.data());
      ::_exit(127);
    }
    if (pid < 0) {
      const int error = errno;
      for (pid_t started : ranks) {
        ::kill(started, SIGTERM);
        ::waitpid(started, nullptr, 0);
      }
      TORCH_CHECK(false, "cannot start rank ", r, " of ", launch.nproc, ": ", std::strerror(error));
    }
    ranks.push_back(pid);
  }
  int first_failure = 0;
  bool stopping = false;
  std::chrono::steady_clock::time_point kill_at;
  auto stop_all = [&](int signal) {
    for (pid_t pid : ranks) {
      if (pid > 0) {
        ::kill(pid, signal);
      }
    }
  };
  size_t running = ranks.size();
  while (running > 0) {
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (auto& pid : ranks) {
        if (pid == done) {
          pid = -1;
          --running;
          const int code = exit_status_of(status);
          if (code != 0 && first_failure == 0) {
            first_failure = code;
          }
        }
      }
      continue;
    }
    const bool asked = launch.stop_requested && launch.stop_requested();
    if (!stopping && (first_failure != 0 || asked)) {
      stopping = true;
      stop_all(SIGTERM);
      kill_at = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<int64_t>(launch.grace_s * 1000.0));
    }
    if (stopping && std::chrono::steady_clock::now() > kill_at) {
      stop_all(SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return first_failure;
}

}  // namespace ewgs::dist
