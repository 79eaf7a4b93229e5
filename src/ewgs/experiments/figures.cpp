// gnuplot figures of runs (include/ewgs/experiments/figures.h). Each figure is a
// script in <out>/scripts reading tables in <out>/data; gnuplot renders it once as
// PNG (pngcairo) and once as SVG.
#include "ewgs/experiments/figures.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "ewgs/experiments/analysis.h"
#include "ewgs/experiments/child_process.h"

namespace fs = std::filesystem;

namespace ewgs::experiments {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

std::string slug(const std::string& label) {
  std::string out;
  for (char c : label) {
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' ? c : '-';
  }
  return out.empty() ? "run" : out;
}

/// Text gnuplot reads back as the same number; NaN marks a missing value.
std::string cell(double v) {
  return std::isnan(v) ? "NaN" : fmt::format("{}", v);
}

/// A gnuplot string literal.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

/// A table with a header row: the first column is x, then one column per series.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(double x, const std::vector<double>& values) { rows_.emplace_back(x, values); }
  bool empty() const { return rows_.empty(); }
  size_t series() const { return header_.size() - 1; }
  void write(const std::string& path) const {
    std::ofstream out(path);
    for (size_t i = 0; i < header_.size(); ++i) {
      out << (i ? "\t" : "") << quoted(header_[i]);
    }
    out << "\n";
    for (const auto& [x, values] : rows_) {
      out << cell(x);
      for (double v : values) {
        out << "\t" << cell(v);
      }
      out << "\n";
    }
    TORCH_CHECK(out.good(), "cannot write ", path);
  }

 private:
  std::vector<std::string> header_;
  std::vector<std::pair<double, std::vector<double>>> rows_;
};

/// Writes a figure's script and renders it as PNG and SVG.
class FigureWriter {
 public:
  explicit FigureWriter(const FigureOptions& options) : options_(options) {
    root_ = fs::absolute(options.out_dir);
    fs::create_directories(root_ / "data");
    fs::create_directories(root_ / "scripts");
  }

  std::string data_path(const std::string& name) const {
    return (root_ / "data" / (name + ".dat")).string();
  }

  void render(const std::string& name, int width, int height, const std::string& body) {
    const std::string script = (root_ / "scripts" / (name + ".gp")).string();
    std::ofstream out(script);
    out << "# " << name << ": run  gnuplot -e \"fmt='svg'\" " << script << "  (or fmt='png')\n"
        << "if (!exists(\"fmt\")) fmt = \"png\"\n"
        << "if (fmt eq \"svg\") {\n"
        << "  set terminal svg size " << width << "," << height
        << " dynamic noenhanced font \"sans,11\" background \"white\"\n"
        << "} else {\n"
        << "  set terminal pngcairo size " << width << "," << height
        << " noenhanced font \"sans,10\"\n"
        << "}\n"
        << "set output " << quoted((root_ / name).string()) << " . \".\" . fmt\n"
        << "set grid\nset key outside right top box opaque\n"
        << body;
    out.close();
    TORCH_CHECK(out.good() || fs::exists(script), "cannot write ", script);
    const std::string log = (root_ / "scripts" / (name + ".log")).string();
    for (const char* format : {"png", "svg"}) {
      fs::remove(log);
      int code = 0;
      try {
        code = run_process({options_.gnuplot, "-e", fmt::format("fmt='{}'", format), script}, log);
      } catch (const c10::Error& e) {
        TORCH_CHECK(
            false,
            "ewgs plot draws with gnuplot, which did not start (",
            e.what_without_backtrace(),
            "); on Debian: apt install gnuplot-nox");
      }
      TORCH_CHECK(
          code == 0,
          "gnuplot failed on ",
          script,
          " (exit status ",
          code,
          "):\n",
          tail_of_file(log));
    }
    fs::remove(log);
  }

 private:
  FigureOptions options_;
  fs::path root_;
};

/// Values of key `key` at each epoch over a group's runs: mean, min, max.
std::map<int64_t, std::vector<double>> per_epoch(
    const std::vector<const RunRecord*>& runs, const char* key) {
  std::map<int64_t, std::vector<double>> values;
  for (const auto* run : runs) {
    for (const auto& e : run->epochs) {
      if (e.contains(key) && e[key].is_number()) {
        values[e.at("epoch").get<int64_t>()].push_back(e[key].get<double>());
      }
    }
  }
  return values;
}

std::vector<double> mean_min_max(const std::vector<double>& v) {
  if (v.empty()) {
    return {kMissing, kMissing, kMissing};
  }
  double sum = 0.0;
  for (double x : v) {
    sum += x;
  }
  return {
      sum / v.size(), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

/// Training loss and test top-1 against epoch, one line per group with a min-max band over its
/// seeds.
Figure curves(
    const std::vector<std::pair<std::string, std::vector<const RunRecord*>>>& groups,
    FigureWriter& w) {
  std::string loss_plot = "plot ";
  std::string top1_plot = "plot ";
  int index = 1;
  for (const auto& [label, runs] : groups) {
    const auto loss = per_epoch(runs, "train_loss");
    const auto top1 = per_epoch(runs, "test_top1");
    Table table(
        {"epoch", "loss_mean", "loss_min", "loss_max", "top1_mean", "top1_min", "top1_max"});
    std::map<int64_t, bool> epochs;
    for (const auto& [e, v] : loss) {
      epochs[e] = true;
    }
    for (const auto& [e, v] : top1) {
      epochs[e] = true;
    }
    for (const auto& [e, unused] : epochs) {
      auto row = mean_min_max(loss.count(e) ? loss.at(e) : std::vector<double>{});
      const auto t = mean_min_max(top1.count(e) ? top1.at(e) : std::vector<double>{});
      row.insert(row.end(), t.begin(), t.end());
      table.row(static_cast<double>(e), row);
    }
    const std::string file = w.data_path("curves-" + slug(label));
    table.write(file);
    const std::string sep = index == 1 ? "" : ", \\\n     ";
    loss_plot +=
        sep +
        fmt::format(
            "{0} using 1:3:4 with filledcurves fs transparent solid 0.2 noborder lc {1} notitle, "
            "{0} using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc {1} title {2}",
            quoted(file),
            index,
            quoted(label));
    top1_plot +=
        sep +
        fmt::format(
            "{0} using 1:6:7 with filledcurves fs transparent solid 0.2 noborder lc {1} notitle, "
            "{0} using 1:5 with linespoints lw 2 pt 7 ps 0.5 lc {1} title {2}",
            quoted(file),
            index,
            quoted(label));
    ++index;
  }
  const std::string body =
      "set multiplot layout 1,2 title \"mean over seeds, band: min to max over seeds\"\n"
      "set xlabel \"epoch\"\nset ylabel \"training loss\"\nset key inside top right\n" +
      loss_plot + "\nset ylabel \"test top-1 (%)\"\nset key inside bottom right\n" + top1_plot +
      "\nunset multiplot\n";
  w.render("curves", 1400, 560, body);
  return {
      "curves",
      "Training loss and test top-1 against epoch: mean over seeds, band from the lowest to the "
      "highest seed"};
}

/// The first run of a group that has delta updates.
const RunRecord* first_with_updates(const std::vector<const RunRecord*>& runs) {
  for (const auto* run : runs) {
    if (!run->delta_updates.empty()) {
      return run;
    }
  }
  return nullptr;
}

/// Layer names of a run's delta updates for one target, in model order.
std::vector<std::string> update_layers(const RunRecord& run, const std::string& target) {
  std::vector<std::string> layers;
  for (const auto& q : run.delta_updates.front().at("quantizers")) {
    if (q.at("target").get<std::string>() == target) {
      layers.push_back(q.at("layer").get<std::string>());
    }
  }
  return layers;
}

/// Per update (rows: the epoch it ran in), `field` of every layer (columns) for one target.
Table update_table(const RunRecord& run, const std::string& target, const char* field) {
  const auto layers = update_layers(run, target);
  std::vector<std::string> header{"epoch"};
  header.insert(header.end(), layers.begin(), layers.end());
  Table table(header);
  for (const auto& u : run.delta_updates) {
    std::map<std::string, double> by_layer;
    for (const auto& q : u.at("quantizers")) {
      if (q.at("target").get<std::string>() == target) {
        by_layer[q.at("layer").get<std::string>()] = q.at(field).get<double>();
      }
    }
    std::vector<double> row;
    for (const auto& l : layers) {
      row.push_back(by_layer.count(l) ? by_layer[l] : kMissing);
    }
    table.row(u.at("epoch").get<double>(), row);
  }
  return table;
}

const char* target_title(const std::string& target) {
  return target == "weight" ? "delta_W (weights)" : "delta_A (activations)";
}

/// delta_W and delta_A of every layer over training, and their per-layer means over
/// every update of every seed (the paper's Fig. 3).
Figure deltas(
    const std::string& label, const std::vector<const RunRecord*>& runs, FigureWriter& w) {
  const RunRecord& run = *first_with_updates(runs);
  const std::string name = "deltas-" + slug(label);
  std::string body = "set multiplot layout 1,3 title " +
                     quoted(label + ": EWGS delta from the Hessian (" + run.dir + ")") + "\n";
  for (const std::string target : {"weight", "act"}) {
    const auto table = update_table(run, target, "delta");
    const std::string file = w.data_path(name + "-" + target);
    table.write(file);
    body += fmt::format(
        "set title {}\nset xlabel \"epoch of the update\"\nset ylabel \"delta\"\nset logscale y\n"
        "set key below maxrows 4 font \",8\"\nset offsets graph 0.05, graph 0.05, 0, 0\n"
        "plot for [i=2:{}] {} using 1:i with linespoints pt 7 ps 0.5 title columnhead(i)\n",
        quoted(target_title(target)),
        table.series() + 1,
        quoted(file));
  }
  // Per-layer means over all updates of all seeds.
  std::vector<std::string> layers = update_layers(run, "weight");
  for (const auto& l : update_layers(run, "act")) {
    if (std::find(layers.begin(), layers.end(), l) == layers.end()) {
      layers.push_back(l);
    }
  }
  std::map<std::pair<std::string, std::string>, std::vector<double>> values;
  for (const auto* r : runs) {
    for (const auto& u : r->delta_updates) {
      for (const auto& q : u.at("quantizers")) {
        values[{q.at("layer").get<std::string>(), q.at("target").get<std::string>()}].push_back(
            q.at("delta").get<double>());
      }
    }
  }
  const std::string means = w.data_path(name + "-mean");
  {
    std::ofstream out(means);
    out << "index\tlayer\tdelta_W\tdelta_A\n";
    for (size_t i = 0; i < layers.size(); ++i) {
      out << i << "\t" << quoted(layers[i]);
      for (const char* target : {"weight", "act"}) {
        out << "\t" << cell(mean_min_max(values[{layers[i], target}])[0]);
      }
      out << "\n";
    }
  }
  body += fmt::format(
      "set title \"mean over updates and seeds\"\nset xlabel \"layer\"\nset key inside top "
      "left\nset offsets 0, 0, 0, 0\n"
      "set style fill solid 0.7\nset boxwidth 0.4\nset xtics rotate by 60 right\n"
      "plot {0} using ($1-0.2):3:xtic(2) with boxes title \"delta_W\", {0} using ($1+0.2):4 with "
      "boxes title \"delta_A\"\n"
      "unset multiplot\n",
      quoted(means));
  w.render(name, 1800, 560, body);
  return {
      name,
      label +
          ": delta_W and delta_A of every layer at each Hessian update, and their means per layer"};
}

/// Hessian trace per element of every layer with its standard error, one series per update.
Figure traces(
    const std::string& label, const std::vector<const RunRecord*>& runs, FigureWriter& w) {
  const RunRecord& run = *first_with_updates(runs);
  const std::string name = "traces-" + slug(label);
  std::string body =
      "set multiplot layout 1,2 title " +
      quoted(
          label + ": Hessian trace per element, error bars one standard error (" + run.dir + ")") +
      "\n";
  for (const std::string target : {"weight", "act"}) {
    std::string plot = "plot ";
    const size_t updates = run.delta_updates.size();
    for (size_t k = 0; k < updates; ++k) {
      const auto& u = run.delta_updates[k];
      const std::string file = w.data_path(fmt::format("{}-{}-{}", name, target, k));
      std::ofstream out(file);
      out << "index\ttrace\tstderr\tlayer\n";
      size_t i = 0;
      for (const auto& q : u.at("quantizers")) {
        if (q.at("target").get<std::string>() == target) {
          out << i++ << "\t" << cell(q.at("trace_per_element").get<double>()) << "\t"
              << cell(q.at("trace_stderr").get<double>()) << "\t"
              << quoted(q.at("layer").get<std::string>()) << "\n";
        }
      }
      const double offset =
          updates > 1 ? 0.3 * (static_cast<double>(k) / (updates - 1) - 0.5) : 0.0;
      plot += fmt::format(
          "{}{} using ($1+{}):2:3{} with yerrorbars pt 7 ps 0.6 title \"epoch {}\"",
          k ? ", " : "",
          quoted(file),
          offset,
          k == 0 ? ":xtic(4)" : "",
          u.at("epoch").get<int64_t>());
    }
    body += fmt::format(
        "set title {}\nset xlabel \"layer\"\nset ylabel \"trace / element\"\nset xtics rotate by "
        "60 right\n"
        "set format y \"%.2e\"\nset offsets 0.5, 0.5, graph 0.1, graph 0.1\n"
        "set key inside top right\n{}\n",
        quoted(target == "weight" ? "weights" : "activations"),
        plot);
  }
  body += "unset multiplot\n";
  w.render(name, 1500, 600, body);
  return {name, label + ": Hessian traces per element with their standard errors at every update"};
}

/// Quantizer intervals (l, u of weights and activations) and alpha of every layer over training.
Figure intervals(const std::string& label, const RunRecord& run, FigureWriter& w) {
  const std::string name = "intervals-" + slug(label);
  struct Panel {
    const char* title;
    const char* quantizer;  // "" for alpha
    const char* scalar;
  };
  const Panel panels[] = {
      {"activations: l", "act", "l"},
      {"activations: u", "act", "u"},
      {"weights: l", "weight", "l"},
      {"weights: u", "weight", "u"},
      {"alpha (output scale)", "", "alpha"}};
  std::vector<std::string> layers;
  for (const auto& layer : run.epochs.front().at("layers")) {
    layers.push_back(layer.at("name").get<std::string>());
  }
  std::string body = "set multiplot layout 2,3 title " +
                     quoted(label + ": quantizer intervals over training (" + run.dir + ")") + "\n";
  for (const auto& p : panels) {
    std::vector<std::string> header{"epoch"};
    header.insert(header.end(), layers.begin(), layers.end());
    Table table(header);
    bool any = false;
    for (const auto& e : run.epochs) {
      std::vector<double> row;
      for (const auto& layer : e.at("layers")) {
        const nlohmann::json* source =
            *p.quantizer ? (layer.contains(p.quantizer) ? &layer[p.quantizer] : nullptr) : &layer;
        const bool has = source != nullptr && source->contains(p.scalar);
        row.push_back(has ? (*source)[p.scalar].get<double>() : kMissing);
        any = any || has;
      }
      table.row(e.at("epoch").get<double>(), row);
    }
    if (!any) {
      continue;
    }
    const std::string file =
        w.data_path(fmt::format("{}-{}{}", name, *p.quantizer ? p.quantizer : "", p.scalar));
    table.write(file);
    body += fmt::format(
        "set title {}\nset xlabel \"epoch\"\nset key below maxrows 3 font \",8\"\n"
        "plot for [i=2:{}] {} using 1:i with linespoints pt 7 ps 0.4 title columnhead(i)\n",
        quoted(p.title),
        table.series() + 1,
        quoted(file));
  }
  body += "unset multiplot\n";
  w.render(name, 1500, 900, body);
  return {
      name,
      label +
          ": quantizer intervals l and u of weights and activations, and alpha, of every layer per "
          "epoch"};
}

}  // namespace

std::vector<Figure> write_figures(
    const std::vector<RunRecord>& runs, const FigureOptions& options) {
  const auto groups = group_runs(runs);
  FigureWriter writer(options);
  std::vector<Figure> figures{curves(groups, writer)};
  for (const auto& [label, members] : groups) {
    const RunRecord* with_layers = nullptr;
    for (const auto* run : members) {
      if (!run->epochs.empty() && run->epochs.front().contains("layers")) {
        with_layers = run;
        break;
      }
    }
    if (with_layers) {
      figures.push_back(intervals(label, *with_layers, writer));
    }
    if (first_with_updates(members)) {
      figures.push_back(deltas(label, members, writer));
      figures.push_back(traces(label, members, writer));
    }
  }
  return figures;
}

}  // namespace ewgs::experiments
