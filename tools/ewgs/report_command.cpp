// `ewgs report`: runs and sweeps analyzed: cells over seeds with their 95 %
// intervals, paired differences against a baseline with a verdict, as Markdown,
// CSV or JSON; --html also draws the figures and writes one static page.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "ewgs/experiments/analysis.h"
#include "ewgs/experiments/html_report.h"
#include "ewgs/experiments/run_record.h"
#include "ewgs/train/atomic_file.h"

namespace ewgs::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> paths;
  std::string format = "markdown";
  bool json = false;
  std::string baseline;
  std::string html;
  std::string title = "ewgs report";
};

/// The baseline a sweep's plan names, when the report is of one sweep.
std::string plan_baseline(const std::vector<std::string>& paths) {
  if (paths.size() == 1 &&
      std::filesystem::exists(std::filesystem::path(paths[0]) / "sweep.json")) {
    return experiments::read_json_file((std::filesystem::path(paths[0]) / "sweep.json").string())
        .value("baseline", "");
  }
  return "";
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report",
      "Analysis of runs and sweeps: intervals over seeds and paired differences with a verdict");
  auto args = std::make_shared<ReportArgs>();
  cmd->add_option("runs", args->paths, "Run directories or sweep folders")->required();
  cmd->add_option("--format", args->format, "markdown, csv or json")
      ->check(CLI::IsMember({"markdown", "csv", "json"}))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Same as --format json");
  cmd->add_option(
      "--baseline",
      args->baseline,
      "Cell the differences are taken against (default: the plan's, or the first)");
  cmd->add_option(
      "--html", args->html, "Also write DIR/index.html with the tables and every figure");
  cmd->add_option("--title", args->title, "Title of the HTML page")->capture_default_str();
  cmd->callback([args] {
    const auto runs = experiments::read_runs(args->paths);
    const std::string baseline =
        args->baseline.empty() ? plan_baseline(args->paths) : args->baseline;
    const auto analysis = experiments::analyze(runs, baseline);
    const std::string format = args->json ? "json" : args->format;
    if (format == "json") {
      std::cout << experiments::to_json(analysis).dump(2) << "\n";
    } else if (format == "csv") {
      std::cout << experiments::to_csv(analysis);
    } else {
      std::cout << experiments::to_markdown(analysis);
    }
    if (!args->html.empty()) {
      const auto figures = experiments::write_figures(runs, {args->html, "gnuplot"});
      const std::string page = (std::filesystem::path(args->html) / "index.html").string();
      train::write_file_atomically(page, experiments::to_html(args->title, analysis, figures));
      std::cerr << "wrote " << page << " with " << figures.size() << " figures\n";
    }
  });
}

}  // namespace ewgs::cli
