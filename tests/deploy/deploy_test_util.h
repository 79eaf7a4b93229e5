// What the export tests share: Fashion-MNIST batches, brief training so weights and
// BatchNorm statistics are real, the exact fake-quantized reference in double, and a
// comparison of the packed engine with it layer by layer.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "ewgs/infer/engine.h"
#include "ewgs/models/registry.h"

namespace ewgs::test {

/// Normalized images (N, 1, 28, 28) and labels of a Fashion-MNIST split.
struct LabelledImages {
  torch::Tensor images;
  torch::Tensor labels;
};
LabelledImages fashion_mnist(const std::string& split, int64_t count);

/// `count` images spread evenly over a data set split (all of it when `count` is
/// its size), through its evaluation transform.
LabelledImages eval_images(
    const std::string& kind, const std::string& root, const std::string& split, int64_t count);

/// Trains `model` for `steps` Adam steps of batch 64 from `data` (the first
/// forward initializes the quantizers; their parameters learn at 1e-5), then
/// leaves it in eval mode.
void train_briefly(
    models::ClassifierImpl& model, const LabelledImages& data, int64_t steps, double lr = 2e-3);

/// The fake-quantized model evaluated exactly: weights at their grid values
/// (gain code - zero) scale in double, activations quantized by the model's own
/// quantizers in double, every other operation in double. Per quantized layer,
/// its input codes (N, C, H, W) and its integer sums (as doubles, computed
/// exactly); a layer whose grid has no offset outputs its sums times
/// S_A gain_A S_W, rounded once.
struct ExactReference {
  torch::Tensor logits;
  std::map<std::string, torch::Tensor> input_codes;
  std::map<std::string, torch::Tensor> sums;
};
ExactReference exact_reference(models::ClassifierImpl& model, const torch::Tensor& images);

/// The engine's logits, and per quantized conv op its input codes and integer
/// sums, as (N, C, H, W) tensors named by layer.
struct EngineRun {
  torch::Tensor logits;
  std::map<std::string, torch::Tensor> input_codes;
  std::map<std::string, torch::Tensor> sums;
};
EngineRun run_engine(infer::Engine& engine, const torch::Tensor& images);

/// Checks that `engine` and `reference` agree: equal codes and sums for every
/// quantized layer, logits within 1e-9 relative, equal predictions. Returns an
/// empty string on success, else what differs.
std::string compare_with_reference(const EngineRun& engine, const ExactReference& reference);

/// For each quantized layer, the float32 graph's own integer sums: its
/// convolution of the engine's input codes (as the float values they stand for)
/// with its float32 quantized weights and output scale, divided by the layer's
/// scale |alpha| S_A gain_A S_W and rounded. Layers whose activation grid has an
/// offset (LSQ+, AQE, symmetric LBT) are left out: their sums carry a border term.
std::map<std::string, torch::Tensor> float32_sums(
    models::ClassifierImpl& model, const EngineRun& run);

/// Images (float32 model in eval mode) whose top-1 differs from the engine's.
int64_t float32_prediction_mismatches(
    models::ClassifierImpl& model, const torch::Tensor& images, const torch::Tensor& engine_logits);

/// Builds an engine for `model` through an in-memory export.
infer::Engine export_to_engine(
    models::ClassifierImpl& model,
    std::vector<int64_t> input_shape,
    infer::KernelPath path,
    int threads = 1);

}  // namespace ewgs::test
