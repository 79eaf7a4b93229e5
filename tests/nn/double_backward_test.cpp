// Second-order gradients through quantized layers: Hessian-vector products
// w.r.t. a quantizer's discrete values and through the EWGS backward itself.
#include <torch/torch.h>

#include "ewgs/nn/qlinear.h"
#include "ewgs/quant/interval_quantizer.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using nn::QLinear;
using nn::QLinearOptions;

/// The network of scripts/gen_golden.py::hvp_case with the golden's state.
struct HvpNet {
  QLinear fc{QLinearOptions(6, 5).weight_quant("ewgs:bits=1").act_quant("ewgs:bits=2")};
  torch::Tensor w2;
  torch::Tensor target;

  explicit HvpNet(const nlohmann::json& g, const torch::Device& device = torch::kCPU) {
    torch::NoGradGuard no_grad;
    fc->weight.copy_(tensor_from_json(g["w1"]));
    w2 = tensor_from_json(g["w2"]);
    target = torch::tensor(g["target"].get<std::vector<int64_t>>());
    auto set = [&](const quant::QuantizerPtr& q, double l, double u) {
      auto* iq = dynamic_cast<quant::IntervalQuantizerImpl*>(q.get());
      iq->lower.fill_(l);
      iq->upper.fill_(u);
      iq->set_delta(g["delta"].get<double>());
    };
    set(fc->weight_quant, g["l_w"].get<double>(), g["u_w"].get<double>());
    set(fc->act_quant, g["l_a"].get<double>(), g["u_a"].get<double>());
    fc->output_scale.fill_(g["alpha"].get<double>());
    // The golden state replaces the paper initialization: mark it done.
    for (auto& b : fc->named_buffers()) {
      if (b.key() == "quant_initialized") {
        b.value().fill_(1);
      }
    }
    fc->to(device);
    w2 = w2.to(device);
    target = target.to(device);
    fc->train();
  }

  torch::Tensor loss(const torch::Tensor& x) {
    return torch::nn::functional::cross_entropy(
        torch::linear(torch::softplus(fc->forward(x)), w2), target);
  }
};

/// Hessian-vector products w.r.t. the activations' x_q and the weights on
/// `device`, against the golden PyTorch values.
void expect_golden_hessian_vector_products(const torch::Device& device) {
  const auto g = load_golden("hvp_qlinear.json");
  HvpNet net(g, device);
  const auto x = tensor_from_json(g["x"]).to(device).requires_grad_(true);
  const auto on = [&](const char* key) { return tensor_from_json(g[key]).to(device); };

  net.fc->act_quant->set_capture(true);
  auto loss = net.loss(x);
  const auto x_q = net.fc->act_quant->captured();
  ASSERT_TRUE(x_q.defined());
  EXPECT_NEAR(loss.item<double>(), g["loss"].get<double>(), 1e-6);
  const auto g_a = torch::autograd::grad({loss}, {x_q}, {}, true, true)[0];
  const auto hv_a = torch::autograd::grad({(g_a * on("v_a")).sum()}, {x_q})[0];
  EXPECT_TRUE(all_close(hv_a.cpu(), tensor_from_json(g["hv_a"]), 1e-5, 1e-7));
  net.fc->act_quant->set_capture(false);

  loss = net.loss(x);
  const auto g_w = torch::autograd::grad({loss}, {net.fc->weight}, {}, true, true)[0];
  EXPECT_TRUE(all_close(g_w.cpu(), tensor_from_json(g["grad_w"]), 1e-5, 1e-7));
  const auto hv_w = torch::autograd::grad({(g_w * on("v_w")).sum()}, {net.fc->weight})[0];
  EXPECT_TRUE(all_close(hv_w.cpu(), tensor_from_json(g["hv_w"]), 1e-5, 1e-7));
  EXPECT_GT(hv_w.abs().sum().item<double>(), 0.0);
}

TEST(DoubleBackwardTest, HessianVectorProductsMatchPyTorch) {
  expect_golden_hessian_vector_products(torch::kCPU);
}

TEST(DoubleBackwardTest, HessianVectorProductsMatchPyTorch_CUDA) {
  expect_golden_hessian_vector_products(torch::kCUDA);
}

TEST(DoubleBackwardTest, HessianWrtDiscreteValuesMatchesPlainOpsRecomputation) {
  torch::manual_seed(3);
  QLinear fc(QLinearOptions(7, 4)
                 .weight_quant("ewgs:bits=2,delta=0.2")
                 .act_quant("ewgs:bits=2,delta=0.2"));
  fc->train();
  const auto x = torch::relu(torch::randn({6, 7})).requires_grad_(true);
  fc->forward(x);  // initialize
  const auto labels = torch::tensor({0, 1, 2, 3, 0, 1});
  fc->act_quant->set_capture(true);
  const auto loss = torch::nn::functional::cross_entropy(torch::tanh(fc->forward(x)) * 3, labels);
  const auto x_q = fc->act_quant->captured();
  const auto v = torch::randint(0, 2, x_q.sizes()).to(torch::kFloat) * 2 - 1;
  const auto g = torch::autograd::grad({loss}, {x_q}, {}, true, true)[0];
  const auto hv = torch::autograd::grad({(g * v).sum()}, {x_q})[0];

  // Independent: the same loss as a plain function of a leaf x_q.
  auto leaf = x_q.detach().clone().requires_grad_(true);
  const auto w_q = fc->weight_quant->forward(fc->weight).detach();
  const auto plain = torch::nn::functional::cross_entropy(
      torch::tanh(fc->output_scale.abs().detach() * torch::linear(leaf, w_q)) * 3, labels);
  const auto g_plain = torch::autograd::grad({plain}, {leaf}, {}, true, true)[0];
  const auto hv_plain = torch::autograd::grad({(g_plain * v).sum()}, {leaf})[0];
  EXPECT_TRUE(all_close(g, g_plain, 1e-5, 1e-7));
  EXPECT_TRUE(all_close(hv, hv_plain, 1e-5, 1e-7));
  EXPECT_GT(hv.abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace ewgs::test
