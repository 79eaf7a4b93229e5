// Signal flag for graceful training stops (include/ewgs/train/stop_signal.h).
#include "ewgs/train/stop_signal.h"

#include <atomic>
#include <csignal>

namespace ewgs::train {
namespace {

std::atomic<int> g_received{0};
struct sigaction g_previous_int;
struct sigaction g_previous_term;

extern "C" void on_stop_signal(int signal) {
  g_received.store(signal);
}

} // namespace

StopSignalGuard::StopSignalGuard() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignalGuard::~StopSignalGuard() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int StopSignalGuard::received() {
  return g_received.load();
}

void StopSignalGuard::reset() {
  g_received.store(0);
}

void StopSignalGuard::raise_for_test(int signal) {
  g_received.store(signal);
}

} // namespace ewgs::train
