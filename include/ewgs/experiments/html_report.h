// `ewgs report --html`: one static page with the analysis tables and the figures.
#pragma once

#include <string>
#include <vector>

#include "ewgs/experiments/analysis.h"
#include "ewgs/experiments/figures.h"

namespace ewgs::experiments {

/// The page: title, cells with their intervals, paired differences with verdicts,
/// runs not counted, then each figure (its SVG, linked to the PNG) with its caption.
std::string to_html(
    const std::string& title, const Analysis& analysis, const std::vector<Figure>& figures);

}  // namespace ewgs::experiments
