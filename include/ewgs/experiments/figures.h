// Figures of runs and sweeps, drawn by gnuplot: training loss and test accuracy
// against epoch with seed bands, per-layer delta_W and delta_A over training with
// their per-layer averages, quantizer intervals l, u and alpha per layer, and the
// Hessian traces with their standard errors. Each figure is written as PNG and SVG
// beside its gnuplot script and data files, so it can be restyled by hand.
#pragma once

#include <string>
#include <vector>

#include "ewgs/experiments/run_record.h"

namespace ewgs::experiments {

struct FigureOptions {
  /// Folder of the figures (created); data/ and scripts/ go inside it.
  std::string out_dir;
  /// The gnuplot program.
  std::string gnuplot = "gnuplot";
};

struct Figure {
  /// File name without extension ("curves", "deltas-ewgs-3std").
  std::string name;
  /// What it shows, one line.
  std::string caption;
};

/// Draws every figure the runs have data for and returns them in order. A run
/// without Hessian updates gets no delta or trace figure. gnuplot missing or
/// failing is an error naming its log.
std::vector<Figure> write_figures(const std::vector<RunRecord>& runs, const FigureOptions& options);

}  // namespace ewgs::experiments
