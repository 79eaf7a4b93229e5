// Each subcommand of the `ewgs` program adds itself to the CLI11 app here.
#pragma once

#include <CLI/CLI.hpp>

namespace ewgs::cli {

/// `ewgs info`: build information and the registered methods and models.
void add_info_command(CLI::App& app);

} // namespace ewgs::cli
