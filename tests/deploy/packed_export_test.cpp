// Exported models run by the packed engine compute exactly the fake-quantized model:
// the same input codes and integer sums at every quantized layer, the same logits to
// 1e-9 and the same predictions, for every exportable method, bit-width, model and
// kernel path; and unsupported models are refused with the layer named.
#include <gtest/gtest.h>

#include "deploy_test_util.h"
#include "ewgs/deploy/packed_export.h"
#include "ewgs/infer/kernel_path.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

struct MethodCase {
  const char* weight;
  const char* act;
  bool first_last;
};

std::string describe(const MethodCase& c) {
  return std::string(c.weight) + " / " + c.act + (c.first_last ? " (all layers)" : "");
}

/// Builds, briefly trains and checks a model against the exact reference on
/// every kernel path (the slow reference path on a few images).
void expect_exact(const std::string& name, const models::QuantSpec& quant, const LabelledImages& train,
                  const LabelledImages& test, int64_t steps, const std::string& what) {
  torch::manual_seed(1);
  auto model = models::make_model(name, {10, 1, quant});
  train_briefly(*model, train, steps);
  const auto reference = exact_reference(*model, test.images);
  for (const auto path : infer::available_kernel_paths()) {
    const int64_t n = path == infer::KernelPath::kReference ? 8 : test.images.size(0);
    auto engine = export_to_engine(*model, {1, 28, 28}, path, 2);
    const auto run = run_engine(engine, test.images.slice(0, 0, n));
    ExactReference subset{reference.logits.slice(0, 0, n), {}, {}};
    for (const auto& [layer, codes] : reference.input_codes) {
      subset.input_codes[layer] = codes.slice(0, 0, n);
      subset.sums[layer] = reference.sums.at(layer).slice(0, 0, n);
    }
    EXPECT_EQ(compare_with_reference(run, subset), "") << what << " on the " << infer::to_string(path) << " path";
  }
}

class PackedExportTest : public SeededTest {
 protected:
  static void SetUpTestSuite() {
    train_ = new LabelledImages(fashion_mnist("train", 2048));
    test_ = new LabelledImages(fashion_mnist("test", 256));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }
  static LabelledImages* train_;
  static LabelledImages* test_;
};

LabelledImages* PackedExportTest::train_ = nullptr;
LabelledImages* PackedExportTest::test_ = nullptr;

TEST_F(PackedExportTest, EveryExportableMethodMatchesTheExactModel) {
  const MethodCase cases[] = {
      {"ewgs:bits=1", "ewgs:bits=1", false},     {"ste:bits=2", "ste:bits=2", false},
      {"ewgs:bits=4", "ewgs:bits=4", false},     {"ewgs:bits=2", "ewgs:bits=2", true},
      {"dorefa:bits=1", "dorefa:bits=1", false}, {"dorefa:bits=2", "pact:bits=2", false},
      {"lsq:bits=2", "lsq:bits=2", false},       {"lsq_plus:bits=4", "lsq_plus:bits=4", false},
      {"daq:bits=1", "daq:bits=1", false},       {"daq:bits=2", "daq:bits=4", false},
      {"aqe:bits=1", "aqe:bits=1", true},        {"aqe:bits=2", "aqe:bits=2", true},
      {"lbt_wa:bits=2", "lbt_wa:bits=2", false}, {"lbt_wa:bits=4", "lbt_wa:bits=3", true},
      {"ewgs:bits=1", "ewgs:bits=2", false},     {"ewgs:bits=4", "ewgs:bits=1", false},
  };
  for (const auto& c : cases) {
    expect_exact("small_cnn", {c.weight, c.act, "off", c.first_last}, *train_, *test_, 30, describe(c));
  }
}

TEST_F(PackedExportTest, EveryModelMatchesTheExactModelAtOneTwoAndFourBits) {
  for (const char* name : {"resnet20", "resnet18", "resnet34", "mobilenet_v2", "minw_cnn"}) {
    for (const int bits : {1, 2, 4}) {
      const auto spec = "ewgs:bits=" + std::to_string(bits);
      // MobileNetV2 quantizes every layer, as in the paper.
      const bool all = std::string(name) == "mobilenet_v2";
      const LabelledImages test{test_->images.slice(0, 0, 64), test_->labels.slice(0, 0, 64)};
      expect_exact(name, {spec, spec, "off", all}, *train_, test, 8, std::string(name) + " W" + std::to_string(bits));
    }
  }
}

TEST_F(PackedExportTest, OneBitModelMatchesTheExactModelOnTheWholeTestSet) {
  torch::manual_seed(1);
  auto model = models::make_model("small_cnn", {10, 1, {"ewgs:bits=1", "ewgs:bits=1"}});
  train_briefly(*model, *train_, 60);
  const auto test = fashion_mnist("test", 10000);
  auto engine = export_to_engine(*model, {1, 28, 28}, infer::default_kernel_path(), 2);
  int64_t correct = 0;
  int64_t float32_mismatches = 0;
  for (int64_t begin = 0; begin < test.images.size(0); begin += 1000) {
    const auto images = test.images.slice(0, begin, begin + 1000);
    const auto run = run_engine(engine, images);
    ASSERT_EQ(compare_with_reference(run, exact_reference(*model, images)), "") << "images from " << begin;
    float32_mismatches += float32_prediction_mismatches(*model, images, run.logits);
    correct += (run.logits.argmax(1) == test.labels.slice(0, begin, begin + 1000)).sum().item<int64_t>();
  }
  // Trained, not degenerate.
  EXPECT_GT(correct, 5000);
  // The float32 graph rounds its sums, which moves a few activations across a
  // rounding boundary; it disagrees on at most 0.05 % of the predictions
  // (docs/DEPLOYMENT.md; 1 of 10,000 with this seed).
  EXPECT_LE(float32_mismatches, 5);
}

TEST_F(PackedExportTest, FloatGraphSumsDividedByTheScaleAreTheEngineIntegers) {
  for (const char* spec : {"ewgs:bits=1", "ewgs:bits=2", "ewgs:bits=4"}) {
    torch::manual_seed(1);
    auto model = models::make_model("resnet20", {10, 1, {spec, spec}});
    train_briefly(*model, *train_, 8);
    auto engine = export_to_engine(*model, {1, 28, 28}, infer::default_kernel_path(), 2);
    const auto run = run_engine(engine, test_->images.slice(0, 0, 32));
    const auto sums = float32_sums(*model, run);
    EXPECT_EQ(sums.size(), 18u) << spec; // the quantized convs of ResNet-20
    for (const auto& [layer, expected] : sums) {
      EXPECT_TRUE(torch::equal(run.sums.at(layer), expected)) << spec << " layer " << layer;
    }
  }
}

TEST_F(PackedExportTest, UnsupportedModelsAreRefusedNamingTheLayer) {
  const struct {
    models::QuantSpec quant;
    const char* message;
  } cases[] = {
      {{"ewgs:bits=8", "ewgs:bits=8"}, "layer conv2: 8-bit weights; the packed format holds 1-4-bit weights"},
      {{"aqe:bits=3", "aqe:bits=3"}, "layer conv2: aqe activation quantizer cannot be exported at 3 bits"},
      {{"ewgs:bits=2", "off"}, "layer conv2 quantizes its weights but not its input"},
  };
  for (const auto& c : cases) {
    auto model = models::make_model("small_cnn", {10, 1, c.quant});
    train_briefly(*model, *train_, 1);
    deploy::PackedExportOptions options;
    options.input_shape = {1, 28, 28};
    EWGS_EXPECT_THROWS_WITH(deploy::export_packed_bytes(*model, options), c.message);
  }
}

TEST_F(PackedExportTest, OneBitFilesAreFarSmallerThanTheFloatStateDict) {
  auto model = models::make_model("resnet20", {10, 1, {"ewgs:bits=1", "ewgs:bits=1"}});
  train_briefly(*model, *train_, 1);
  deploy::PackedExportOptions options;
  options.input_shape = {1, 28, 28};
  const auto bytes = deploy::export_packed_bytes(*model, options).size();
  int64_t float_bytes = 0;
  for (const auto& p : model->parameters()) {
    float_bytes += p.numel() * 4;
  }
  // The FP stem and classifier and per-channel doubles stay; the 1-bit convs shrink 32x.
  EXPECT_LT(static_cast<double>(bytes), float_bytes / 10.0) << bytes << " vs " << float_bytes;
}

} // namespace
} // namespace ewgs::test
