// Entry point of the `ewgs` program: parses the subcommand, reports errors with exit
// status 1; the library itself never exits.
#include <c10/util/Exception.h>

#include <exception>
#include <iostream>

#include "commands.h"
#include "ewgs/core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"ewgs: low-bit quantization-aware training with element-wise gradient scaling"};
  app.set_version_flag("--version", ewgs::version_banner());
  app.require_subcommand(1);
  ewgs::cli::add_info_command(app);
  ewgs::cli::add_train_command(app);
  ewgs::cli::add_eval_command(app);
  ewgs::cli::add_hessian_command(app);
  ewgs::cli::add_export_command(app);
  ewgs::cli::add_infer_command(app);
  ewgs::cli::add_bench_command(app);
  ewgs::cli::add_report_command(app);
  ewgs::cli::add_sweep_command(app);
  ewgs::cli::add_plot_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const c10::Error& e) {
    // The library's errors name the file, key or value at fault; a usage hint would
    // point away from it (CLI11 prints usage for malformed command lines above).
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return ewgs::cli::exit_status();
}
