// The tiny quantized network the delta estimators are checked on, alone and
// across ranks, and its exact per-quantizer deltas from whole Hessian blocks.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/state_dict.h"

namespace ewgs::test {

/// conv(W2A2 ewgs) -> BN -> ReLU -> pool -> linear(W2A2 ewgs) -> logits, both
/// layers with the gradient quantizer `grad_quant`.
struct TinyQuantizedNetImpl : torch::nn::Module {
  explicit TinyQuantizedNetImpl(const std::string& grad_quant = "off")
      : conv(register_module(
            "conv",
            nn::QConv2d(nn::QConv2dOptions(2, 3, 3)
                            .padding(1)
                            .weight_quant("ewgs:bits=2")
                            .act_quant("ewgs:bits=2")
                            .grad_quant(grad_quant)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(3))),
        fc(register_module(
            "fc",
            nn::QLinear(nn::QLinearOptions(12, 4)
                            .weight_quant("ewgs:bits=2")
                            .act_quant("ewgs:bits=2")
                            .grad_quant(grad_quant)))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::relu(bn->forward(conv->forward(x)));
    return fc->forward(torch::adaptive_avg_pool2d(h, {2, 2}).flatten(1));
  }

  nn::QConv2d conv;
  torch::nn::BatchNorm2d bn;
  nn::QLinear fc;
};
TORCH_MODULE(TinyQuantizedNet);

/// The network with weights from seed `seed`, whatever the global RNG held.
inline TinyQuantizedNet seeded_tiny_quantized_net(
    uint64_t seed, const std::string& grad_quant = "off") {
  torch::manual_seed(seed);
  return TinyQuantizedNet(grad_quant);
}

/// Two batches of six 2x4x4 images with labels in [0, 4), from the global generator.
inline std::vector<hessian::Batch> two_tiny_batches() {
  std::vector<hessian::Batch> batches;
  for (int i = 0; i < 2; ++i) {
    // Two statements: the order of function arguments' evaluation differs
    // between compilers, and so would the draws.
    auto images = torch::randn({6, 2, 4, 4});
    auto labels = torch::randint(0, 4, {6});
    batches.emplace_back(std::move(images), std::move(labels));
  }
  return batches;
}

/// The same network (seed 5), batches (seed 4) and initialized quantizers in
/// every process and with every compiler. The seeds give a network whose
/// every delta the fast estimator can pin to 10 % within its probe cap (some
/// seeds give a weight delta too close to 0 for that).
struct HessianFixture {
  TinyQuantizedNet net;
  std::vector<hessian::Batch> batches;
  hessian::ForwardFn forward;

  explicit HessianFixture(const std::string& grad_quant = "off")
      : net(seeded_tiny_quantized_net(5, grad_quant)) {
    torch::manual_seed(4);
    batches = two_tiny_batches();
    net->train();
    net->forward(batches[0].first);  // paper initialization
    forward = [this](const torch::Tensor& x) { return net->forward(x); };
  }
};

/// Per quantizer, from Hessians formed column by column by autograd: the
/// exact delta term (Tr(H)/N)/G averaged over batches, and the standard
/// deviation of one Hutchinson sample of that term, sqrt(2 (|H|_F^2 -
/// sum diag^2)) / N / G, per batch.
struct Exact {
  double delta = 0;
  std::vector<double> sample_std;
};

inline std::map<std::string, Exact> exact_deltas(HessianFixture& f) {
  std::map<std::string, Exact> out;
  std::vector<std::pair<std::string, quant::QuantizerPtr>> qs = {
      {"conv/act", f.net->conv->act_quant},
      {"fc/act", f.net->fc->act_quant},
      {"conv/weight", f.net->conv->weight_quant},
      {"fc/weight", f.net->fc->weight_quant}};
  auto state = nn::module_state(*f.net);
  std::vector<torch::Tensor> saved;
  for (auto& [n, t] : state) {
    saved.push_back(t.clone());
  }
  for (const auto& [images, labels] : f.batches) {
    for (auto& [name, q] : qs) {
      q->set_capture(true);
    }
    const auto loss = torch::nn::functional::cross_entropy(f.net->forward(images), labels);
    for (auto& [name, q] : qs) {
      const auto x_q = q->captured();
      const auto g = torch::autograd::grad({loss}, {x_q}, {}, true, true)[0];
      const auto flat = g.flatten();
      std::vector<torch::Tensor> rows;
      for (int64_t k = 0; k < flat.numel(); ++k) {
        rows.push_back(torch::autograd::grad({flat[k]}, {x_q}, {}, true, false)[0].flatten().to(
            torch::kDouble));
      }
      const auto h = torch::stack(rows);
      const double scale = 1.0 / static_cast<double>(x_q.numel()) / (3 * g.std().item<double>());
      const double off_diagonal = (h.pow(2).sum() - h.diagonal().pow(2).sum()).item<double>();
      out[name].delta += h.trace().item<double>() * scale / static_cast<double>(f.batches.size());
      out[name].sample_std.push_back(std::sqrt(2 * off_diagonal) * scale);
    }
    for (auto& [name, q] : qs) {
      q->set_capture(false);
    }
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < state.size(); ++i) {
    state[i].second.copy_(saved[i]);  // undo BN running-stat updates
  }
  return out;
}

}  // namespace ewgs::test
