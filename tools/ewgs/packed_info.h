// Description of a packed model file for `ewgs info --model FILE.ewgsm`.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ewgs::cli {

/// Operations, shapes, bits, weight bytes and chosen kernels of the file at `path`.
nlohmann::json packed_model_info(const std::string& path);
void print_packed_model_info(const nlohmann::json& info);

}  // namespace ewgs::cli
