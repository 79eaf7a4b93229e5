// Child processes of sweeps and figures: started with fork and exec, their output
// appended to a log file, and stopped with SIGTERM when the parent dies.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ewgs::experiments {

/// Starts `argv` (argv[0] a path, or a name looked up in PATH) with stdout and
/// stderr appended to `log`; returns its pid. An error names the program.
pid_t start_process(const std::vector<std::string>& argv, const std::string& log);

/// Runs `argv` to its end as above; returns its exit status (128 + signal when killed).
int run_process(const std::vector<std::string>& argv, const std::string& log);

/// Exit status of a waitpid() status: the code, or 128 + signal.
int exit_code(int wait_status);

/// The last `lines` lines of a text file, indented, for error messages.
std::string tail_of_file(const std::string& path, size_t lines = 5);

}  // namespace ewgs::experiments
