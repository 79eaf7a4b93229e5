// Runs a program as a child process for tests that need a process of their own:
// kills at chosen points, resource limits, the command-line program.
#pragma once

#include <string>
#include <vector>

namespace ewgs::test {

struct ProcessResult {
  /// Exit status, or -1 when the process did not exit by itself.
  int status = -1;
  /// The signal that ended it, or 0.
  int signal = 0;
  /// Whether it ran past the time limit (it is then killed).
  bool timed_out = false;
  std::string stdout_text;
  std::string stderr_text;
};

/// Runs `program` with `args`, waits at most `timeout_s` seconds, and returns
/// how it ended with what it wrote.
ProcessResult run_process(
    const std::string& program, const std::vector<std::string>& args, int timeout_s = 300);

}  // namespace ewgs::test
