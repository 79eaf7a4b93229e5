// `ewgs plot RUN_OR_SWEEP...`: PNG and SVG figures of runs and sweeps, drawn by
// gnuplot (include/ewgs/experiments/figures.h).
#include <iostream>

#include "commands.h"
#include "ewgs/experiments/figures.h"

namespace ewgs::cli {

void add_plot_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plot", "Figures (PNG and SVG, via gnuplot) of runs and sweeps");
  auto paths = std::make_shared<std::vector<std::string>>();
  auto options = std::make_shared<experiments::FigureOptions>();
  options->out_dir = "figures";
  cmd->add_option("runs", *paths, "Run directories or sweep folders")->required();
  cmd->add_option("--out", options->out_dir, "Folder of the figures")->capture_default_str();
  cmd->add_option("--gnuplot", options->gnuplot, "The gnuplot program")->capture_default_str();
  cmd->callback([paths, options] {
    for (const auto& figure :
         experiments::write_figures(experiments::read_runs(*paths), *options)) {
      std::cout << options->out_dir << "/" << figure.name << ".png and .svg: " << figure.caption
                << "\n";
    }
  });
}

}  // namespace ewgs::cli
