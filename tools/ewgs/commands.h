// Each subcommand of the `ewgs` program adds itself to the CLI11 app here.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace ewgs::cli {

/// `ewgs info`: build information, registered methods and models, or one model.
void add_info_command(CLI::App& app);
/// `ewgs train`: a training run from a TOML config, or --resume of one.
void add_train_command(CLI::App& app);
/// `ewgs eval`: test accuracy of a checkpoint or .pth file.
void add_eval_command(CLI::App& app);
/// `ewgs hessian`: per-layer Hessian traces and EWGS deltas of a model.
void add_hessian_command(CLI::App& app);
/// `ewgs bench`: step, quantizer and hessian benchmarks.
void add_bench_command(CLI::App& app);
/// `ewgs export`: a checkpoint to the packed format or ONNX.
void add_export_command(CLI::App& app);
/// `ewgs infer`: test accuracy of a packed model with the inference engine.
void add_infer_command(CLI::App& app);
/// `ewgs report`: intervals over seeds and paired differences of runs and sweeps.
void add_report_command(CLI::App& app);
/// `ewgs sweep`: the cells of a sweep plan, resumable.
void add_sweep_command(CLI::App& app);
/// `ewgs plot`: figures of runs and sweeps.
void add_plot_command(CLI::App& app);

/// "--section.key=value" / "--section.key value" arguments CLI11 left over,
/// as "section.key=value"; anything else is an error naming it.
std::vector<std::string> collect_overrides(const std::vector<std::string>& extras);

/// Exit status a subcommand asks for (set by its callback).
int& exit_status();

}  // namespace ewgs::cli
