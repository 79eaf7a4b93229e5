// LBT fixed-point training (docs/methods/lbt.md): the gradient quantizer (grid, unbiased
// stochastic rounding, clipping, gamma walk and update, reproducible noise), the W/A quantizer,
// layers, the trainer config, and parity with scripts/gen_lbt_golden.py (tests/golden/lbt.json).
#include <cmath>

#include "../../src/ewgs/quant/lbt.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/quantized_layers.h"
#include "ewgs/quant/registry.h"
#include "ewgs/train/train_config.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

class LbtTest : public SeededTest {};

quant::QuantizerPtr make_grad_quantizer(const std::string& spec) {
  return quant::make_quantizer(spec, QuantTarget::kGradient);
}

torch::Tensor buffer(const quant::QuantizerPtr& q, const std::string& name) {
  return q->named_buffers()[name];
}

/// Sets an adaptive quantizer's gamma as if its walk had run.
void set_gamma(const quant::QuantizerPtr& q, double gamma) {
  buffer(q, "gamma").fill_(gamma);
  buffer(q, "initialized").fill_(1);
}

/// The gradient the quantizer passes back when `g` arrives at its output.
torch::Tensor backward_through(const quant::QuantizerPtr& q, const torch::Tensor& g) {
  auto y = torch::zeros_like(g).requires_grad_(true);
  q->forward(y).backward(g);
  return y.grad();
}

double scalar(const quant::QuantizerPtr& q, const std::string& name) {
  for (const auto& [key, value] : q->scalars()) {
    if (key == name) {
      return value;
    }
  }
  ADD_FAILURE() << q->describe() << " logs no scalar '" << name << "'";
  return NAN;
}

/// The first-iteration walk of docs/methods/lbt.md written directly: R recounted on the tensor.
double direct_walk(const torch::Tensor& g, int64_t bits, double alpha) {
  const auto a = g.abs().to(torch::kDouble);
  const double g_max = a.max().item<double>();
  const double target = alpha / static_cast<double>((1 << bits) - 1);
  double gamma = 1.0;
  double m = 0.0;
  while (true) {
    const double r = (a > gamma * g_max).to(torch::kDouble).mean().item<double>();
    m = 0.999 * m + 0.001 * r;
    const int sign = (m > target) - (m < target);
    gamma += 0.001 * sign;
    if (sign > 0) {
      return std::min(std::max(gamma, 0.001), 1.0);
    }
  }
}

TEST_F(LbtTest, ForwardIsTheIdentity) {
  auto q = make_grad_quantizer("lbt:bits=4");
  const auto y = torch::randn({2, 3, 4, 4}).requires_grad_(true);
  EXPECT_TRUE(all_equal(q->forward(y), y));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(all_equal(q->forward(y), y));
}

TEST_F(LbtTest, BackwardValuesLieOnTheGridWithinPlusMinusC) {
  for (const int64_t bits : {2, 4, 8}) {
    auto q = make_grad_quantizer("lbt:bits=" + std::to_string(bits) + ",gamma=0.6");
    const auto g = torch::randn({4, 8, 5, 5}) * 1e-3;
    const auto out = backward_through(q, g);
    const double steps = std::pow(2.0, static_cast<double>(bits)) - 2.0;
    const float c = 0.6f * g.abs().max().item<float>();
    const double delta = 2.0 * c / steps;
    // G^ = q Delta - c with integer q in [0, 2^b - 2] (docs/methods/lbt.md, G5).
    const auto level = (out.to(torch::kDouble) + c) / delta;
    EXPECT_TRUE(all_close(level, level.round(), 0.0, 1e-4)) << bits << " bits";
    EXPECT_GE(level.min().item<double>(), -1e-4);
    EXPECT_LE(level.max().item<double>(), steps + 1e-4);
    // Elements beyond the clipping value come back exactly at +-c.
    const auto beyond = g.abs() >= c;
    ASSERT_GT(beyond.sum().item<int64_t>(), 0);
    EXPECT_TRUE(
        all_close(out.masked_select(beyond), (g.sign() * c).masked_select(beyond), 1e-6, 0.0));
    EXPECT_NEAR(
        scalar(q, "clip_ratio"), (g.abs() > c).to(torch::kDouble).mean().item<double>(), 1e-7);
  }
}

TEST_F(LbtTest, StochasticRoundingIsUnbiased) {
  // 4,000 copies of one row in one backward: one g_max, independent noise.
  const int64_t draws = 4000;
  auto row = torch::linspace(-1.0, 1.0, 41) * 2e-3;
  auto q = make_grad_quantizer("lbt:bits=4,gamma=0.6");
  const auto out = backward_through(q, row.repeat({draws, 1})).to(torch::kDouble);
  const double c = 0.6 * 2e-3;
  const double delta = 2.0 * c / 14.0;
  // One draw has standard deviation <= Delta / 2, the mean of 4,000 draws
  // <= Delta / 126: allow 5 standard errors.
  const double tolerance = 5.0 * delta / (2.0 * std::sqrt(static_cast<double>(draws)));
  EXPECT_TRUE(all_close(out.mean(0), row.to(torch::kDouble).clamp(-c, c), 0.0, tolerance));
  // Rounding is random: inner elements land on both neighbouring levels.
  EXPECT_GT(out.select(1, 22).std().item<double>(), 0.2 * delta);
}

TEST_F(LbtTest, NoiseIsReproducibleSeededAndLeavesTheGlobalGeneratorAlone) {
  const auto g = torch::randn({64, 16}) * 1e-2;
  torch::manual_seed(7);
  const auto expected_global = torch::rand({4});
  torch::manual_seed(7);
  auto a = make_grad_quantizer("lbt:bits=4");
  auto b = make_grad_quantizer("lbt:bits=4");
  const auto first = backward_through(a, g);
  EXPECT_TRUE(all_equal(torch::rand({4}), expected_global));
  EXPECT_TRUE(all_equal(backward_through(b, g), first));
  EXPECT_FALSE(all_equal(backward_through(a, g), first)) << "the draw counter must advance";
  EXPECT_EQ(buffer(a, "draws").item<int64_t>(), 2);
  EXPECT_FALSE(all_equal(backward_through(make_grad_quantizer("lbt:bits=4,seed=3"), g), first));
}

TEST_F(LbtTest, ResumedQuantizerDrawsTheSameNoise) {
  const auto g1 = torch::randn({32, 8}) * 1e-2;
  const auto g2 = torch::randn({32, 8}) * 3e-2;
  auto run = make_grad_quantizer("lbt:bits=4");
  backward_through(run, g1);
  run->after_optimizer_step();
  auto resumed = make_grad_quantizer("lbt:bits=4");
  for (const auto& item : run->named_buffers()) {
    buffer(resumed, item.key()).copy_(item.value());
  }
  EXPECT_TRUE(all_equal(backward_through(resumed, g2), backward_through(run, g2)));
}

TEST_F(LbtTest, GammaMovesByEtaTowardTheTargetClipRatio) {
  // Target at 4 bits: 1e-3 / 15 = 6.7e-5 of all elements.
  auto q = make_grad_quantizer("lbt:bits=4");
  set_gamma(q, 0.5);
  // Normal gradient, gamma 0.5: about 3 % clipped, far above: gamma grows.
  backward_through(q, torch::randn({20000}));
  EXPECT_GT(scalar(q, "clip_ratio"), 1e-3);
  EXPECT_NEAR(scalar(q, "gamma"), 0.5, 1e-7) << "gamma moves only after the optimizer step";
  q->after_optimizer_step();
  EXPECT_NEAR(scalar(q, "gamma"), 0.501, 1e-6);
  q->after_optimizer_step();  // no new backward: no new update
  EXPECT_NEAR(scalar(q, "gamma"), 0.501, 1e-6);
  // One spike among 20,000 small values: R = 1 / 20000 < target: gamma falls.
  auto spike = torch::rand({20000}) * 0.4;
  spike[123] = 1.0;
  backward_through(q, spike);
  EXPECT_NEAR(scalar(q, "clip_ratio"), 1.0 / 20000.0, 1e-9);
  q->after_optimizer_step();
  EXPECT_NEAR(scalar(q, "gamma"), 0.500, 1e-6);
  // eta from the spec.
  auto fast = make_grad_quantizer("lbt:bits=4,eta=0.1");
  set_gamma(fast, 0.5);
  backward_through(fast, torch::randn({1000}));
  fast->after_optimizer_step();
  EXPECT_NEAR(scalar(fast, "gamma"), 0.6, 1e-6);
}

TEST_F(LbtTest, GammaUpdateStaysInBoundsAndSkipsZeroGradients) {
  const auto f = [](double gamma, double r, double g_max) {
    return quant::lbt::updated_gamma(
               torch::tensor(static_cast<float>(gamma)),
               torch::tensor(static_cast<float>(r)),
               torch::tensor(static_cast<float>(g_max)),
               4,
               1e-3,
               0.01)
        .item<double>();
  };
  EXPECT_NEAR(f(0.5, 0.5, 1.0), 0.51, 1e-6);
  EXPECT_NEAR(f(0.5, 0.0, 1.0), 0.49, 1e-6);
  EXPECT_NEAR(f(0.995, 0.5, 1.0), 1.0, 1e-7);
  EXPECT_NEAR(f(0.005, 0.0, 1.0), 0.001, 1e-7);
  EXPECT_NEAR(f(0.5, 0.5, 0.0), 0.5, 1e-7);
  EXPECT_DOUBLE_EQ(quant::lbt::target_clip_ratio(4, 1e-3), 1e-3 / 15.0);
}

TEST_F(LbtTest, FirstGradientRunsTheWalkOfADirectReimplementation) {
  for (const auto& [bits, g] :
       {std::pair<int64_t, torch::Tensor>{4, torch::randn({50000}) * 1e-3},
        {8, torch::randn({128, 64}).pow(3)},
        {2, torch::relu(torch::randn({4, 16, 8, 8}))}}) {
    const double expected = direct_walk(g, bits, 1e-3);
    EXPECT_NEAR(quant::lbt::initial_gamma(g, bits, 1e-3), expected, 1e-12);
    EXPECT_GT(expected, 0.4) << "a walk from 1 stops once the EMA passes the target";
    EXPECT_LT(expected, 1.0);
    auto q = make_grad_quantizer("lbt:bits=" + std::to_string(bits));
    EXPECT_EQ(buffer(q, "initialized").item<int>(), 0);
    backward_through(q, g);
    EXPECT_EQ(buffer(q, "initialized").item<int>(), 1);
    EXPECT_NEAR(scalar(q, "gamma"), static_cast<float>(expected), 1e-7);
    // The walk's iteration has no interval update; the next one has.
    q->after_optimizer_step();
    EXPECT_NEAR(scalar(q, "gamma"), static_cast<float>(expected), 1e-7);
    backward_through(q, g * 2);
    EXPECT_NEAR(scalar(q, "gamma"), static_cast<float>(expected), 1e-7) << "no second walk";
  }
}

TEST_F(LbtTest, FixedGammaNeverUpdates) {
  for (const std::string gamma : {"1", "0.8", "0.6"}) {
    auto q = make_grad_quantizer("lbt:bits=4,gamma=" + gamma);
    EXPECT_EQ(q->spec(), "lbt:bits=4,gamma=" + gamma + ",seed=0");
    EXPECT_EQ(q->named_buffers().find("initialized"), nullptr);
    for (int step = 0; step < 5; ++step) {
      backward_through(q, torch::randn({1000}) * (step + 1));
      q->after_optimizer_step();
    }
    EXPECT_NEAR(scalar(q, "gamma"), std::stod(gamma), 1e-7);
  }
  EXPECT_EQ(
      make_grad_quantizer("lbt:bits=5")->spec(),
      "lbt:alpha=0.001,bits=5,eta=0.001,gamma=adaptive,seed=0");
}

TEST_F(LbtTest, ZeroGradientPassesZerosAndWaitsForTheWalk) {
  auto q = make_grad_quantizer("lbt:bits=4");
  const auto out = backward_through(q, torch::zeros({3, 7}));
  EXPECT_TRUE(all_equal(out, torch::zeros({3, 7})));
  q->after_optimizer_step();
  EXPECT_EQ(buffer(q, "initialized").item<int>(), 0);
  EXPECT_DOUBLE_EQ(scalar(q, "gamma"), 1.0);
  EXPECT_DOUBLE_EQ(scalar(q, "clip_ratio"), 0.0);
  // Initialized, a zero gradient leaves gamma where it is.
  set_gamma(q, 0.7);
  EXPECT_TRUE(all_equal(backward_through(q, torch::zeros({5})), torch::zeros({5})));
  q->after_optimizer_step();
  EXPECT_NEAR(scalar(q, "gamma"), 0.7, 1e-7);
  EWGS_EXPECT_THROWS_WITH(quant::lbt::initial_gamma(torch::zeros({4}), 4, 1e-3), "nonzero element");
}

TEST_F(LbtTest, RejectsBadSpecsWithClearErrors) {
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:bits=1"), "bits = 1 leaves no step), got 1");
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:bits=9"), "bits must be in [2, 8]");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("lbt:bits=4", QuantTarget::kWeight),
      "lbt weight quantizer: lbt quantizes the gradient at a layer's output");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("lbt:bits=4", QuantTarget::kActivation), "not activations");
  for (const std::string gamma : {"0", "1.5", "fixed", "nan"}) {
    EWGS_EXPECT_THROWS_WITH(
        make_grad_quantizer("lbt:gamma=" + gamma),
        "gamma must be \"adaptive\" or a number in (0, 1], got '" + gamma + "'");
  }
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:gamma=0.8,alpha=0.01"), "do nothing");
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:alpha=0"), "alpha");
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:alpha=2"), "in (0, 1], got 2");
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:eta=-1"), "eta must be in (0, 1]");
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:seed=-2"), "seed must be >= 0");
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt:bits=4,delta=0.1"), "has no key 'delta'");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("lbt_wa:bits=1", QuantTarget::kWeight), "bits must be in [2, 8]");
  EWGS_EXPECT_THROWS_WITH(make_grad_quantizer("lbt_wa:bits=4"), "LBT's gradient quantizer is lbt");
}

// --- lbt_wa: weights and activations (docs/methods/lbt.md, W and A) ---

TEST_F(LbtTest, WeightQuantizerHasSymmetricLevelsWithZero) {
  auto q = quant::make_quantizer("lbt_wa:bits=3", QuantTarget::kWeight);
  EXPECT_TRUE(q->output_in_input_scale());
  const auto w = torch::randn({200}) * 0.1;
  q->initialize(w);
  const double s = scalar(q, "u");
  EXPECT_NEAR(s, 3.0 * w.std().item<double>(), 1e-6);
  const auto x = torch::linspace(-2 * s, 2 * s, 400).requires_grad_(true);
  const auto out = q->forward(x);
  // t = (x / s + 1) / 2; 2^3 - 1 = 7 levels s * {-1, -2/3, ..., 1}, zero included.
  const auto t = (x.detach() / s + 1.0) * 0.5;
  const auto expected = (2.0 * torch::round(torch::clamp(t, 0.0, 1.0) * 6.0) / 6.0 - 1.0) * s;
  EXPECT_TRUE(all_close(out, expected, 1e-6, 1e-7));
  EXPECT_EQ(std::get<0>(at::_unique(out.detach())).numel(), 7);
  EXPECT_TRUE(all_close(out.detach().abs().min(), torch::zeros({}), 0.0, 1e-7));
  // STE inside [-s, s], zero outside.
  out.sum().backward();
  const auto inside = ((t >= 0.0) & (t <= 1.0)).to(torch::kFloat);
  EXPECT_TRUE(all_close(x.grad(), inside, 1e-6, 0.0));
}

TEST_F(LbtTest, ActivationQuantizerIsUnsignedUnlessItsFirstBatchHasNegatives) {
  auto relu = quant::make_quantizer("lbt_wa:bits=4", QuantTarget::kActivation);
  const auto a = torch::relu(torch::randn({1000}));
  relu->initialize(a);
  EXPECT_DOUBLE_EQ(scalar(relu, "symmetric"), 0.0);
  const double u = scalar(relu, "u");
  EXPECT_NEAR(u, 3.0 * a.std().item<double>() / std::sqrt(1.0 - 2.0 / M_PI), 1e-5);
  const auto x = torch::linspace(-1.0, 2.0 * u, 301);
  const auto expected = torch::round(torch::clamp(x / u, 0.0, 1.0) * 15.0) / 15.0 * u;
  EXPECT_TRUE(all_close(relu->forward(x), expected, 1e-5, 1e-7));

  auto linear = quant::make_quantizer("lbt_wa:bits=4", QuantTarget::kActivation);
  const auto b = torch::randn({1000});
  linear->initialize(b);
  EXPECT_DOUBLE_EQ(scalar(linear, "symmetric"), 1.0);
  EXPECT_NEAR(scalar(linear, "u"), 3.0 * b.std().item<double>(), 1e-5);
  EXPECT_LT(linear->forward(b).min().item<double>(), 0.0);
}

TEST_F(LbtTest, BoundGetsTheLearnableIntervalGradient) {
  auto q = quant::make_quantizer("lbt_wa:bits=4", QuantTarget::kWeight);
  auto upper = q->named_parameters()["upper"];
  upper.detach().fill_(0.5);
  // Q = (2 t_q - 1) s: dQ/ds = (2 t_q - 1) - x / s inside, sign(x) outside.
  const auto x = torch::tensor({0.1f, -0.33f, 0.7f, -0.9f});
  q->forward(x).sum().backward();
  const auto t_q = torch::round(torch::clamp((x / 0.5 + 1) / 2, 0.0, 1.0) * 14) / 14;
  const auto inside = (x.abs() <= 0.5).to(torch::kFloat);
  const auto expected = ((2 * t_q - 1) - inside * x / 0.5).sum().item<double>();
  EXPECT_NEAR(upper.grad().item<double>(), expected, 1e-5);
}

// --- in layers and through the trainer config ---

TEST_F(LbtTest, QConv2dWithGradientQuantizerTrainsOneStep) {
  const auto options = [](int64_t in, int64_t out) {
    return nn::QConv2dOptions(in, out, 3)
        .padding(1)
        .weight_quant("lbt_wa:bits=4")
        .act_quant("lbt_wa:bits=4")
        .grad_quant("lbt:bits=4");
  };
  // One layer after the other: arguments of one call are initialized in an order
  // each compiler picks, which would give the layers other random weights.
  const nn::QConv2d first(options(1, 6));
  const nn::QConv2d second(options(6, 3));
  torch::nn::Sequential net(
      first, torch::nn::ReLU(), second, torch::nn::AdaptiveAvgPool2d(1), torch::nn::Flatten());
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  const auto images = torch::randn({8, 1, 10, 10});
  const auto labels = torch::randint(0, 3, {8});
  const auto before = net->parameters()[0].clone();
  const auto loss = torch::nn::functional::cross_entropy(net->forward(images), labels);
  loss.backward();
  for (const auto& p : net->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  }
  EXPECT_GT(net->parameters()[0].grad().abs().sum().item<double>(), 0.0);
  sgd.step();
  nn::notify_optimizer_step(*net);
  EXPECT_FALSE(all_equal(net->parameters()[0], before));
  const auto layers = nn::named_quantized_layers(*net);
  ASSERT_EQ(layers.size(), 2u);
  for (const auto& item : layers) {
    ASSERT_TRUE(item.layer->grad_quant);
    EXPECT_FALSE(item.layer->output_scale.defined()) << "LBT has no output scale";
    // The walk ran on the first gradient. It may end at gamma = 1: when the largest
    // |G| is shared by more than the target clip ratio of the elements.
    const auto& buffers = item.layer->grad_quant->named_buffers();
    EXPECT_EQ(buffers["initialized"].item<int64_t>(), 1) << item.name << ": the walk did not run";
    const double gamma = scalar(item.layer->grad_quant, "gamma");
    EXPECT_GE(gamma, quant::lbt::kMinGamma);
    EXPECT_LE(gamma, quant::lbt::kMaxGamma);
  }
  EXPECT_DOUBLE_EQ(scalar(layers[0].layer->act_quant, "symmetric"), 1.0) << "raw images";
  EXPECT_DOUBLE_EQ(scalar(layers[1].layer->act_quant, "symmetric"), 0.0) << "after ReLU";
}

TEST_F(LbtTest, TrainerConfigBuildsLayersWithGradientQuantizers) {
  train::TrainConfig config;
  config.apply_text(
      "[quant]\nmethod = \"lbt_wa\"\nwbits = 4\nabits = 4\ngrad_method = \"lbt\"\ngbits = 4\n"
      "grad_options = \"seed=5\"\n",
      "test");
  config.validate();
  const auto spec = config.quant_spec();
  EXPECT_EQ(spec.weight, "lbt_wa:bits=4");
  EXPECT_EQ(spec.grad, "lbt:bits=4,seed=5");
  models::ModelOptions options;
  options.num_classes = 10;
  options.in_channels = 1;
  options.quant = spec;
  auto model = models::make_model("small_cnn", options);
  const auto layers = nn::named_quantized_layers(*model);
  ASSERT_FALSE(layers.empty());
  for (const auto& item : layers) {
    ASSERT_TRUE(item.layer->grad_quant) << item.name;
    EXPECT_EQ(
        item.layer->grad_quant->spec(), "lbt:alpha=0.001,bits=4,eta=0.001,gamma=adaptive,seed=5");
    EXPECT_EQ(item.layer->weight_quant->method(), "lbt_wa");
  }
  config.apply_override("quant.gbits=1");
  EWGS_EXPECT_THROWS_WITH(config.validate(), "lbt gradient quantizer: bits must be in [2, 8]");
}

// --- parity with scripts/gen_lbt_golden.py ---

TEST_F(LbtTest, WalkMatchesPyTorchGolden) {
  const auto golden = load_golden("lbt.json");
  ASSERT_EQ(golden["walk"].size(), 6u);
  for (const auto& c : golden["walk"]) {
    EXPECT_NEAR(
        quant::lbt::initial_gamma(
            tensor_from_json(c["g"]), c["bits"].get<int64_t>(), c["alpha"].get<double>()),
        c["gamma"].get<double>(),
        1e-9)
        << c["kind"];
  }
}

TEST_F(LbtTest, GridGivenGammaAndNoiseMatchesPyTorchGolden) {
  const auto golden = load_golden("lbt.json");
  ASSERT_EQ(golden["quantize"].size(), 5u);
  for (const auto& c : golden["quantize"]) {
    const int64_t bits = c["bits"].get<int64_t>();
    const auto g = tensor_from_json(c["g"]);
    const auto gamma = torch::tensor(c["gamma"].get<float>());
    const auto out = quant::lbt::quantize_gradient(g, gamma, bits, tensor_from_json(c["noise"]));
    const double c_value = c["c"].get<double>();
    EXPECT_NEAR((gamma * out.g_max).item<double>(), c_value, 1e-12) << c["kind"];
    EXPECT_NEAR(2.0 * c_value / (std::pow(2.0, bits) - 2), c["delta"].get<double>(), 1e-9);
    EXPECT_TRUE(all_close(out.value, tensor_from_json(c["out"]), 1e-6, 1e-12)) << c["kind"];
    EXPECT_NEAR(out.clip_ratio.item<double>(), c["clip_ratio"].get<double>(), 1e-9);
  }
}

TEST_F(LbtTest, UpdateSequenceMatchesPyTorchGolden) {
  const auto golden = load_golden("lbt.json");
  ASSERT_EQ(golden["update"].size(), 2u);
  for (const auto& c : golden["update"]) {
    auto q = make_grad_quantizer(
        "lbt:bits=" + std::to_string(c["bits"].get<int>()) +
        ",alpha=" + std::to_string(c["alpha"].get<double>()) +
        ",eta=" + std::to_string(c["eta"].get<double>()));
    set_gamma(q, c["gamma0"].get<double>());
    for (const auto& step : c["steps"]) {
      backward_through(q, tensor_from_json(step["g"]));
      EXPECT_NEAR(scalar(q, "clip_ratio"), step["clip_ratio"].get<double>(), 1e-9);
      q->after_optimizer_step();
      EXPECT_NEAR(scalar(q, "gamma"), step["gamma"].get<double>(), 1e-9) << step["kind"];
    }
  }
}

}  // namespace
}  // namespace ewgs::test
