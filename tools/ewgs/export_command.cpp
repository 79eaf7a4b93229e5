// `ewgs export`: a checkpoint (or .pth) to the packed inference format (.ewgsm) or to
// ONNX; the input shape and normalization come from the checkpoint's data set.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <iostream>

#include "commands.h"
#include "ewgs/core/version.h"
#include "ewgs/data/open_dataset.h"
#include "ewgs/data/transforms.h"
#include "ewgs/deploy/onnx_export.h"
#include "ewgs/deploy/packed_export.h"
#include "ewgs/train/model_from_file.h"

namespace ewgs::cli {
namespace {

struct ExportArgs {
  std::string checkpoint;
  std::string entry;
  std::string out;
  std::string format = "packed";
  int64_t opset = deploy::OnnxExportOptions().opset;
};

/// {C, H, W} of the images the model sees at evaluation: the data set's size
/// after its evaluation transform.
std::vector<int64_t> eval_input_shape(const train::TrainConfig& config) {
  const auto set =
      data::open_dataset(config.data_dataset, config.data_root, config.data_test_split);
  const auto shape = set->image_shape();
  const data::Transform transform(data::eval_transform(config.data_dataset));
  TORCH_CHECK(
      shape[1] > 0 || transform.fixed_output_size(),
      "export: ",
      set->name(),
      " has images of different sizes and its evaluation transform does not fix one");
  const auto [h, w] = transform.output_size(shape[1], shape[2]);
  return {shape[0], h, w};
}

void run_export(const ExportArgs& args, const std::vector<std::string>& overrides) {
  TORCH_CHECK(
      args.format == "packed" || args.format == "onnx",
      "export: --format must be packed or onnx, got '",
      args.format,
      "'");
  auto loaded = train::load_model_from_file(args.checkpoint, overrides, args.entry);
  const auto& config = loaded.config;
  const auto shape = eval_input_shape(config);
  const auto quantization = config.quant_spec().describe();
  const auto normalization = data::default_normalization(config.data_dataset);
  if (args.format == "onnx") {
    deploy::OnnxExportOptions options;
    options.input_shape = shape;
    options.opset = args.opset;
    options.description = fmt::format(
        "{} {} from {}; input: {} images normalized with mean [{}] and std [{}]",
        config.model_name,
        quantization,
        args.checkpoint,
        config.data_dataset,
        fmt::join(normalization.mean, ", "),
        fmt::join(normalization.std, ", "));
    deploy::export_onnx(*loaded.model, options, args.out);
  } else {
    deploy::PackedExportOptions options;
    options.input_shape = shape;
    options.mean = normalization.mean;
    options.std = normalization.std;
    options.producer = {
        {"ewgs", version()},
        {"model", config.model_name},
        {"quantization", quantization},
        {"checkpoint", args.checkpoint},
        {"dataset", config.data_dataset},
        {"root", config.data_root},
        {"split", config.data_test_split}};
    deploy::export_packed(*loaded.model, options, args.out);
  }
  std::cout << fmt::format(
      "wrote {} ({} {}, input {}x{}x{})\n",
      args.out,
      config.model_name,
      quantization,
      shape[0],
      shape[1],
      shape[2]);
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "export",
      "Export a checkpoint to the packed inference format (.ewgsm) or to ONNX (--format onnx)");
  auto args = std::make_shared<ExportArgs>();
  cmd->add_option("--checkpoint", args->checkpoint, "ewgs checkpoint or PyTorch .pth")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output file (.ewgsm or .onnx)")->required();
  cmd->add_option("--format", args->format, "packed or onnx")->capture_default_str();
  cmd->add_option("--opset", args->opset, "ONNX opset of the default domain (--format onnx)")
      ->capture_default_str();
  cmd->add_option(
      "--entry", args->entry, ".pth: key of the state dict in the saved dict (default: detect)");
  cmd->allow_extras();
  cmd->callback([cmd, args] { run_export(*args, collect_overrides(cmd->remaining())); });
}

}  // namespace ewgs::cli
