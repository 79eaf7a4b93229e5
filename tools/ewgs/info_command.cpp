// `ewgs info`: what this build contains (version, LibTorch, CUDA, registered
// quantizers), as text or --json.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <iostream>

#include "commands.h"
#include "ewgs/core/version.h"
#include "ewgs/quant/registry.h"

namespace ewgs::cli {
namespace {

nlohmann::json build_info() {
  nlohmann::json out;
  out["version"] = version();
  out["libtorch"] = TORCH_VERSION;
  out["cuda_built"] = built_with_cuda();
  out["cuda_available"] = torch::cuda::is_available();
  out["threads"] = at::get_num_threads();
  nlohmann::json quantizers = nlohmann::json::array();
  for (const auto& e : quant::quantizer_registry().entries()) {
    quantizers.push_back({{"name", e.name}, {"description", e.description}});
  }
  out["quantizers"] = quantizers;
  return out;
}

void print_text(const nlohmann::json& info) {
  std::cout << version_banner() << "\n"
            << "CUDA device available: " << (info["cuda_available"].get<bool>() ? "yes" : "no")
            << "\n\nquantizers / gradient estimators:\n";
  for (const auto& q : info["quantizers"]) {
    std::cout << "  " << q["name"].get<std::string>() << "  "
              << q["description"].get<std::string>() << "\n";
  }
}

} // namespace

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show build information and registered methods");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print one JSON object");
  cmd->callback([json] {
    const auto info = build_info();
    if (*json) {
      std::cout << info.dump() << "\n";
    } else {
      print_text(info);
    }
  });
}

} // namespace ewgs::cli
