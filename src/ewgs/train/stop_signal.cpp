// Signal flag for graceful training stops (stop_signal.h).
#include "ewgs/train/stop_signal.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>

namespace ewgs::train {
namespace {

std::atomic<int> g_received{0};
std::atomic<int> g_depth{0};

extern "C" void on_stop_signal(int signal) {
  g_received.store(signal);
}

}  // namespace

StopRequested::StopRequested(int signal, const std::string& stage)
    : std::runtime_error(fmt::format(
          "stopped by signal {} ({}) during start-up, while {}; nothing was trained",
          signal,
          strsignal(signal),
          stage)),
      signal_(signal) {}

StopSignalGuard::StopSignalGuard(bool install) : installed_(install) {
  if (!installed_) {
    return;
  }
  if (g_depth.fetch_add(1) == 0) {
    g_received.store(0);
  }
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);
}

StopSignalGuard::~StopSignalGuard() {
  if (!installed_) {
    return;
  }
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
  g_depth.fetch_sub(1);
}

int StopSignalGuard::received() {
  return g_received.load();
}

void StopSignalGuard::throw_if_received(const std::string& stage) {
  if (const int signal = received()) {
    throw StopRequested(signal, stage);
  }
}

void StopSignalGuard::reset() {
  g_received.store(0);
}

void StopSignalGuard::raise_for_test(int signal) {
  g_received.store(signal);
}

}  // namespace ewgs::train
