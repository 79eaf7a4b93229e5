// Grouping, intervals and paired differences of runs (include/ewgs/experiments/analysis.h).
#include "ewgs/experiments/analysis.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "ewgs/core/strings.h"
#include "ewgs/experiments/number_text.h"

namespace ewgs::experiments {
namespace {

/// Settings that change neither the model nor the data order.
bool ignored_key(const std::string& key) {
  return key == "run.seed" || key == "run.threads" || key == "data.workers" || key == "run.device";
}

/// The config without the seed and the ignored keys, as one comparable text.
std::string group_key(const RunRecord& run) {
  std::string key;
  for (const auto& [name, value] : run.config) {
    if (!ignored_key(name)) {
      key += name + "=" + value + "\n";
    }
  }
  return key;
}

/// Labels of groups outside a sweep: the settings that differ between groups.
std::vector<std::string> labels_from_differences(const std::vector<const RunRecord*>& firsts) {
  std::set<std::string> varying;
  for (const auto& [name, value] : firsts.front()->config) {
    for (const auto* run : firsts) {
      if (!ignored_key(name) && run->config.at(name) != value) {
        varying.insert(name);
      }
    }
  }
  std::vector<std::string> labels;
  for (const auto* run : firsts) {
    std::vector<std::string> parts;
    for (const auto& name : varying) {
      parts.push_back(name.substr(name.rfind('.') + 1) + "=" + run->value(name));
    }
    labels.push_back(parts.empty() ? run->value("quant.method") : join(parts, " "));
  }
  return labels;
}

nlohmann::json summary_json(const SeedSummary& s) {
  auto finite_or_null = [](double v) {
    return std::isnan(v) ? nlohmann::json() : nlohmann::json(v);
  };
  return {
      {"n", s.n},
      {"mean", finite_or_null(s.mean)},
      {"sd", finite_or_null(s.sd)},
      {"ci95", finite_or_null(s.ci95)}};
}

}  // namespace

std::vector<std::pair<std::string, std::vector<const RunRecord*>>> group_runs(
    const std::vector<RunRecord>& runs) {
  TORCH_CHECK(!runs.empty(), "no runs to analyze");
  std::vector<std::string> keys;
  std::map<std::string, std::vector<const RunRecord*>> members;
  for (const auto& run : runs) {
    const std::string key = run.label.empty() ? group_key(run) : "label:" + run.label;
    if (!members.count(key)) {
      keys.push_back(key);
    }
    members[key].push_back(&run);
  }
  std::vector<const RunRecord*> firsts;
  for (const auto& key : keys) {
    firsts.push_back(members[key].front());
  }
  const auto generated = labels_from_differences(firsts);
  std::vector<std::pair<std::string, std::vector<const RunRecord*>>> out;
  std::set<std::string> seen;
  for (size_t g = 0; g < keys.size(); ++g) {
    const std::string label = firsts[g]->label.empty() ? generated[g] : firsts[g]->label;
    TORCH_CHECK(
        seen.insert(label).second,
        "two groups of runs are both labelled '",
        label,
        "'; report them separately");
    out.emplace_back(label, members[keys[g]]);
  }
  return out;
}

Analysis analyze(const std::vector<RunRecord>& runs, const std::string& baseline) {
  Analysis analysis;
  for (const auto& [label, members] : group_runs(runs)) {
    RunGroup group;
    group.label = label;
    group.paper_top1 = members.front()->paper_top1;
    std::vector<double> finals;
    std::vector<double> bests;
    std::set<int64_t> seeds;
    for (const auto* run : members) {
      const int64_t seed = std::stoll(run->value("run.seed"));
      group.epochs = std::stoll(run->value("train.epochs"));
      const std::string status = run->summary.value("status", "");
      if (status != "completed") {
        group.unfinished.push_back(fmt::format(
            "{}: {} after {} of {} epochs",
            run->dir,
            status.empty() ? "running or killed" : status,
            run->epochs.size(),
            group.epochs));
        continue;
      }
      TORCH_CHECK(
          seeds.insert(seed).second,
          "report: ",
          group.label,
          " has two completed runs with seed ",
          seed,
          " (the second is ",
          run->dir,
          ")");
      group.final_top1.emplace_back(seed, run->summary.at("final_top1").get<double>());
      finals.push_back(group.final_top1.back().second);
      bests.push_back(run->summary.at("best_top1").get<double>());
    }
    group.final_summary = summarize(finals);
    group.best_summary = summarize(bests);
    analysis.groups.push_back(std::move(group));
  }

  analysis.baseline = baseline.empty() ? analysis.groups.front().label : baseline;
  const RunGroup* base = nullptr;
  std::vector<std::string> labels;
  for (const auto& g : analysis.groups) {
    labels.push_back(g.label);
    base = g.label == analysis.baseline ? &g : base;
  }
  TORCH_CHECK(
      base != nullptr,
      "report: no group '",
      analysis.baseline,
      "' to compare with (groups: ",
      join(labels, ", "),
      ")");
  std::map<int64_t, double> base_by_seed(base->final_top1.begin(), base->final_top1.end());
  for (const auto& g : analysis.groups) {
    if (&g == base) {
      continue;
    }
    std::vector<double> a;
    std::vector<double> b;
    for (const auto& [seed, top1] : g.final_top1) {
      if (base_by_seed.count(seed)) {
        a.push_back(top1);
        b.push_back(base_by_seed[seed]);
      }
    }
    analysis.differences.push_back(paired_difference(g.label, a, base->label, b));
  }
  return analysis;
}

std::string to_markdown(const Analysis& analysis) {
  std::string out =
      "| cell | epochs | seeds | final top-1 (%) | sd | 95 % CI | best top-1 (%) | paper (%) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& g : analysis.groups) {
    const auto& f = g.final_summary;
    out += fmt::format(
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        g.label,
        g.epochs,
        f.n,
        number_text(f.mean),
        number_text(f.sd),
        std::isnan(f.ci95) ? "-" : "± " + number_text(f.ci95),
        number_text(g.best_summary.mean),
        g.paper_top1 ? number_text(*g.paper_top1, 1) : "-");
  }
  if (!analysis.differences.empty()) {
    out += fmt::format(
        "\nPaired differences of final top-1 against {} (same seeds; 95 % CI from Student's t):\n\n"
        "| cell | seeds | difference (points) | 95 % CI | verdict |\n|---|---:|---:|---:|---|\n",
        analysis.baseline);
    for (const auto& d : analysis.differences) {
      out += fmt::format(
          "| {} - {} | {} | {} | {} | {} |\n",
          d.a,
          d.b,
          d.diff.n,
          number_text(d.diff.mean),
          std::isnan(d.diff.ci95) ? "-" : "± " + number_text(d.diff.ci95),
          d.verdict);
    }
  }
  std::vector<std::string> unfinished;
  for (const auto& g : analysis.groups) {
    unfinished.insert(unfinished.end(), g.unfinished.begin(), g.unfinished.end());
  }
  if (!unfinished.empty()) {
    out += "\nNot counted (not completed):\n\n";
    for (const auto& u : unfinished) {
      out += "- " + u + "\n";
    }
  }
  return out;
}

std::string to_csv(const Analysis& analysis) {
  std::string out = "kind,label,baseline,epochs,n,mean,sd,ci95,best_mean,paper_top1,verdict\n";
  auto csv_number = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); };
  auto quoted = [](const std::string& text) {
    std::string q = "\"";
    for (char c : text) {
      q += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return q + "\"";
  };
  for (const auto& g : analysis.groups) {
    const auto& f = g.final_summary;
    out += fmt::format(
        "cell,{},,{},{},{},{},{},{},{},\n",
        quoted(g.label),
        g.epochs,
        f.n,
        csv_number(f.mean),
        csv_number(f.sd),
        csv_number(f.ci95),
        csv_number(g.best_summary.mean),
        g.paper_top1 ? csv_number(*g.paper_top1) : "");
  }
  for (const auto& d : analysis.differences) {
    out += fmt::format(
        "difference,{},{},,{},{},{},{},,,{}\n",
        quoted(d.a),
        quoted(d.b),
        d.diff.n,
        csv_number(d.diff.mean),
        csv_number(d.diff.sd),
        csv_number(d.diff.ci95),
        quoted(d.verdict));
  }
  return out;
}

nlohmann::json to_json(const Analysis& analysis) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : analysis.groups) {
    nlohmann::json seeds = nlohmann::json::object();
    for (const auto& [seed, top1] : g.final_top1) {
      seeds[std::to_string(seed)] = top1;
    }
    groups.push_back(
        {{"label", g.label},
         {"epochs", g.epochs},
         {"final_top1", summary_json(g.final_summary)},
         {"best_top1", summary_json(g.best_summary)},
         {"final_top1_by_seed", seeds},
         {"paper_top1", g.paper_top1 ? nlohmann::json(*g.paper_top1) : nlohmann::json()},
         {"unfinished", g.unfinished}});
  }
  nlohmann::json differences = nlohmann::json::array();
  for (const auto& d : analysis.differences) {
    differences.push_back(
        {{"a", d.a}, {"b", d.b}, {"difference", summary_json(d.diff)}, {"verdict", d.verdict}});
  }
  return {{"groups", groups}, {"baseline", analysis.baseline}, {"differences", differences}};
}

}  // namespace ewgs::experiments
