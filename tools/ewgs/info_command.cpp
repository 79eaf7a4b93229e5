// `ewgs info`: what this build contains (version, LibTorch, CUDA, registered
// quantizers and models), with --model NAME the parameter counts and quantized
// layers of one model, with --model FILE a packed model file; text or --json.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "ewgs/core/version.h"
#include "ewgs/models/model_summary.h"
#include "ewgs/models/registry.h"
#include "ewgs/quant/registry.h"
#include "packed_info.h"

namespace ewgs::cli {
namespace {

struct InfoArgs {
  bool json = false;
  std::string model;
  int64_t wbits = quant::kBitsOff;
  int64_t abits = quant::kBitsOff;
  std::string estimator = "ewgs";
  bool all_layers = false;
  int64_t classes = 0;
  int64_t channels = 3;
};

template <typename Entries>
nlohmann::json list_entries(const Entries& entries) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries) {
    out.push_back({{"name", e.name}, {"description", e.description}});
  }
  return out;
}

nlohmann::json build_info() {
  return {
      {"version", version()},
      {"libtorch", TORCH_VERSION},
      {"cuda_built", built_with_cuda()},
      {"cuda_available", torch::cuda::is_available()},
      {"threads", at::get_num_threads()},
      {"quantizers", list_entries(quant::quantizer_registry().entries())},
      {"models", list_entries(models::model_registry().entries())}};
}

nlohmann::json model_info(const InfoArgs& args) {
  models::QuantSpec quant;
  quant.weight = args.estimator + ":bits=" + std::to_string(args.wbits);
  quant.act = args.estimator + ":bits=" + std::to_string(args.abits);
  quant.quantize_first_last = args.all_layers;
  auto model = models::make_model(args.model, {args.classes, args.channels, quant});
  auto out = models::summarize(*model).to_json();
  out["model"] = args.model;
  out["quantization"] = quant.describe();
  return out;
}

void print_build_info(const nlohmann::json& info) {
  std::cout << version_banner() << "\n"
            << "CUDA device available: " << (info["cuda_available"].get<bool>() ? "yes" : "no")
            << "\n";
  for (const auto* section : {"quantizers", "models"}) {
    std::cout << "\n" << section << ":\n";
    for (const auto& e : info[section]) {
      std::cout << "  " << e["name"].get<std::string>() << "  "
                << e["description"].get<std::string>() << "\n";
    }
  }
}

void print_model_info(const nlohmann::json& info) {
  std::cout << info["model"].get<std::string>() << " (" << info["quantization"].get<std::string>()
            << ")\n"
            << "  parameters:           " << info["total_parameters"] << "\n"
            << "  model parameters:     " << info["model_parameters"] << "\n"
            << "  quantizer parameters: " << info["quantizer_parameters"] << "\n"
            << "  quantized layers:     " << info["quantized_layers"].size() << "\n";
  for (const auto& l : info["quantized_layers"]) {
    std::cout << "    " << l["name"].get<std::string>() << "  W "
              << l["weight_quant"].get<std::string>() << "  A " << l["act_quant"].get<std::string>()
              << "\n";
  }
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show build information, registered methods, or a model");
  auto args = std::make_shared<InfoArgs>();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_option(
      "--model",
      args->model,
      "Describe this model (see the list without --model), or a packed model file (.ewgsm)");
  cmd->add_option("--wbits", args->wbits, "Weight bits of quantized layers (1-8, 32 = off)")
      ->capture_default_str();
  cmd->add_option("--abits", args->abits, "Activation bits of quantized layers (1-8, 32 = off)")
      ->capture_default_str();
  cmd->add_option("--estimator", args->estimator, "Quantizer / gradient estimator")
      ->capture_default_str();
  cmd->add_flag(
      "--all-layers", args->all_layers, "Also quantize the first conv and the classifier");
  cmd->add_option("--classes", args->classes, "Classes (0: the model's default)")
      ->capture_default_str();
  cmd->add_option("--channels", args->channels, "Input channels")->capture_default_str();
  cmd->callback([args] {
    if (!args->model.empty() && std::filesystem::is_regular_file(args->model)) {
      const auto info = packed_model_info(args->model);
      args->json ? void(std::cout << info.dump() << "\n") : print_packed_model_info(info);
    } else if (args->model.empty()) {
      const auto info = build_info();
      args->json ? void(std::cout << info.dump() << "\n") : print_build_info(info);
    } else {
      const auto info = model_info(*args);
      args->json ? void(std::cout << info.dump() << "\n") : print_model_info(info);
    }
  });
}

}  // namespace ewgs::cli
