// Static HTML report (include/ewgs/experiments/html_report.h).
#include "ewgs/experiments/html_report.h"

#include <fmt/format.h>

#include <cmath>

#include "ewgs/experiments/number_text.h"

namespace ewgs::experiments {
namespace {

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string interval(double v) {
  return std::isnan(v) ? "-" : "± " + number_text(v);
}

}  // namespace

std::string to_html(
    const std::string& title, const Analysis& analysis, const std::vector<Figure>& figures) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>\n"
      "body {{ font-family: sans-serif; max-width: 1500px; margin: 2em auto; }}\n"
      "table {{ border-collapse: collapse; margin: 1em 0; }}\n"
      "td, th {{ border: 1px solid #bbb; padding: 0.3em 0.7em; }} td.n {{ text-align: right; }}\n"
      "img {{ max-width: 100%; border: 1px solid #ddd; }}\n</style></head><body>\n<h1>{0}</h1>\n",
      escaped(title));
  out +=
      "<h2>Cells</h2>\n<p>Final test top-1 over seeds; the interval is the two-sided 95 % "
      "confidence interval "
      "of the mean from Student's "
      "t.</p>\n<table><tr><th>cell</th><th>epochs</th><th>seeds</th><th>final top-1 "
      "(%)</th><th>sd</th><th>95 % CI</th><th>best top-1 (%)</th><th>paper (%)</th></tr>\n";
  for (const auto& g : analysis.groups) {
    const auto& f = g.final_summary;
    out += fmt::format(
        "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td "
        "class=n>{}</td><td "
        "class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
        escaped(g.label),
        g.epochs,
        f.n,
        number_text(f.mean),
        number_text(f.sd),
        interval(f.ci95),
        number_text(g.best_summary.mean),
        g.paper_top1 ? fmt::format("{:.1f}", *g.paper_top1) : "-");
  }
  out += "</table>\n";
  if (!analysis.differences.empty()) {
    out += fmt::format(
        "<h2>Paired differences against {}</h2>\n<p>Final top-1 differences on the seeds both "
        "cells ran.</p>\n"
        "<table><tr><th>cells</th><th>seeds</th><th>difference (points)</th><th>95 % "
        "CI</th><th>verdict</th></tr>\n",
        escaped(analysis.baseline));
    for (const auto& d : analysis.differences) {
      out += fmt::format(
          "<tr><td>{} - {}</td><td class=n>{}</td><td class=n>{}</td><td "
          "class=n>{}</td><td>{}</td></tr>\n",
          escaped(d.a),
          escaped(d.b),
          d.diff.n,
          number_text(d.diff.mean),
          interval(d.diff.ci95),
          escaped(d.verdict));
    }
    out += "</table>\n";
  }
  std::string unfinished;
  for (const auto& g : analysis.groups) {
    for (const auto& u : g.unfinished) {
      unfinished += "<li>" + escaped(u) + "</li>\n";
    }
  }
  if (!unfinished.empty()) {
    out += "<h2>Not counted</h2>\n<ul>\n" + unfinished + "</ul>\n";
  }
  if (!figures.empty()) {
    out += "<h2>Figures</h2>\n";
    for (const auto& f : figures) {
      out += fmt::format(
          "<figure><a href=\"{0}.png\"><img src=\"{0}.svg\" "
          "alt=\"{1}\"></a><figcaption>{1}</figcaption></figure>\n",
          escaped(f.name),
          escaped(f.caption));
    }
  }
  return out + "</body></html>\n";
}

}  // namespace ewgs::experiments
