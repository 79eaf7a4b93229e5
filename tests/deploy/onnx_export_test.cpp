// Exported ONNX graphs run in ONNX Runtime compute the fake-quantized model: where a
// code first differs from the exact model's it is by one step, rarely; logits match to
// float32 rounding where no code moved, and top-1 matches everywhere, for every
// exportable method, bit-width and model. Rounding ties follow each quantizer's mode,
// ONNX's checker accepts every exported model, and unsupported ones are refused.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "deploy_test_util.h"
#include "ewgs/deploy/onnx_export.h"
#include "ewgs/infer/kernel_path.h"
#include "ewgs/models/model_summary.h"
#include "ort_runner.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

/// Worst relative logit error (to the largest logit of the image, at least 1)
/// allowed where no code moved: float32 sums of up to a few thousand products
/// and the BatchNorm and pooling after them measure up to 8.8e-7 here (docs/ONNX.md).
constexpr double kLogitTolerance = 1e-5;
/// Largest share of images in which a code may move with graph optimizations off:
/// float32 rounding moves a code across a rounding boundary in at most 2.3 % of the
/// images measured (8-bit activations, whose steps are smallest), in none for most
/// models. With them on, ONNX Runtime's fused QDQ kernels round near ties their own
/// way, in up to a third of the images at 8 bits: there only the step is bounded.
constexpr double kMovedImages = 0.08;

/// How ONNX Runtime's outputs agree with the exact model on a batch.
struct Agreement {
  int64_t activations = 0;   ///< input codes of quantized layers compared
  int64_t codes_differ = 0;  ///< of which differ from the exact model's
  int64_t max_step = 0;      ///< largest difference of a code
  int64_t first_step = 0;  ///< largest difference in the first layer where an image's codes differ
  int64_t images_moved = 0;  ///< images with at least one differing code
  double logit_error = 0.0;  ///< worst relative logit error of the other images
  int64_t top1_differ = 0;   ///< images whose top-1 differs

  std::string describe() const {
    return std::to_string(codes_differ) + " of " + std::to_string(activations) +
           " codes differ (at most " + std::to_string(first_step) +
           " step where they first differ, " + std::to_string(max_step) + " after), " +
           std::to_string(images_moved) +
           " images with a moved code, logits of the others within " + c10::str(logit_error) +
           " relative, " + std::to_string(top1_differ) + " top-1 differ";
  }
};

/// Compares ONNX Runtime's codes of `layers` (in graph order) and logits with the reference.
Agreement agreement(
    const ExactReference& reference,
    const std::vector<std::string>& layers,
    const std::map<std::string, torch::Tensor>& ort) {
  Agreement a;
  const auto logits = ort.at("logits").to(torch::kDouble);
  const int64_t n = logits.size(0);
  auto moved = torch::zeros({n}, torch::kBool);
  auto first = torch::zeros({n}, torch::kDouble);
  for (const auto& layer : layers) {
    const auto it = ort.find(deploy::onnx_input_codes_name(layer));
    TORCH_CHECK(it != ort.end(), "ONNX Runtime gave no codes for layer ", layer);
    const auto& codes = reference.input_codes.at(layer);
    const auto step =
        (it->second.to(torch::kDouble) - codes.reshape(it->second.sizes())).abs().reshape({n, -1});
    const auto image_step = step.amax(1);
    first = torch::where(moved, first, image_step);
    moved |= image_step > 0;
    a.activations += step.numel();
    a.codes_differ += (step != 0).sum().item<int64_t>();
    a.max_step = std::max(a.max_step, static_cast<int64_t>(image_step.max().item<double>()));
  }
  a.first_step = static_cast<int64_t>(first.max().item<double>());
  a.images_moved = moved.sum().item<int64_t>();
  const auto scale = reference.logits.abs().amax(1).clamp_min(1.0);
  const auto error = ((logits - reference.logits).abs().amax(1) / scale).masked_fill(moved, 0.0);
  a.logit_error = error.max().item<double>();
  a.top1_differ = (logits.argmax(1) != reference.logits.argmax(1)).sum().item<int64_t>();
  return a;
}

/// Layers whose input is quantized, in graph order.
std::vector<std::string> quantized_inputs(
    models::ClassifierImpl& model, const ExactReference& reference) {
  std::vector<std::string> layers;
  for (const auto& node : model.layer_graph().nodes()) {
    if (reference.input_codes.count(node.name)) {
      layers.push_back(node.name);
    }
  }
  return layers;
}

std::string export_bytes(models::ClassifierImpl& model) {
  deploy::OnnxExportOptions options;
  options.input_shape = {1, 28, 28};
  return deploy::export_onnx_bytes(model, options);
}

/// Initializes the quantizers as the first training forward does, without training.
void initialize(models::ClassifierImpl& model, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  model.train();
  model.forward(images);
  model.eval();
}

class OnnxExportTest : public SeededTest {
 protected:
  static void SetUpTestSuite() {
    train_ = new LabelledImages(fashion_mnist("train", 2048));
    test_ = new LabelledImages(fashion_mnist("test", 64));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }

  static LabelledImages* train_;
  static LabelledImages* test_;
};

LabelledImages* OnnxExportTest::train_ = nullptr;
LabelledImages* OnnxExportTest::test_ = nullptr;

/// Tests that run the export in ONNX Runtime: they fail, saying how to install
/// it, where Node.js or onnxruntime-node is missing (CI installs both).
class OnnxRuntimeTest : public OnnxExportTest {
 protected:
  void SetUp() override {
    OnnxExportTest::SetUp();
    const auto unavailable = ort_unavailable_reason();
    ASSERT_EQ(unavailable, "") << "ONNX Runtime is needed: " << unavailable;
  }

  /// Builds and briefly trains a model, runs its export in ONNX Runtime with
  /// graph optimizations off and on, and checks both against the exact model.
  static void expect_agreement(
      const std::string& name,
      const models::QuantSpec& quant,
      int64_t steps,
      int64_t images,
      const std::string& what) {
    torch::manual_seed(1);
    auto model = models::make_model(name, {10, 1, quant});
    train_briefly(*model, *train_, steps);
    const auto x = test_->images.slice(0, 0, images);
    const auto reference = exact_reference(*model, x);
    const auto layers = quantized_inputs(*model, reference);
    const auto outputs =
        run_ort(with_input_code_outputs(export_bytes(*model), layers), x, {"disabled", "all"});
    for (const char* level : {"disabled", "all"}) {
      const auto a = agreement(reference, layers, outputs.at(level));
      const auto where = what + " (optimizations " + level + "): " + a.describe();
      std::cout << where << "\n";
      EXPECT_LE(a.first_step, 1) << where;
      if (std::string(level) == "disabled") {
        EXPECT_LE(static_cast<double>(a.images_moved), kMovedImages * static_cast<double>(images))
            << where;
      } else {
        EXPECT_LE(a.max_step, 1) << where;
      }
      EXPECT_LE(a.logit_error, kLogitTolerance) << where;
      EXPECT_EQ(a.top1_differ, 0) << where;
    }
  }
};

TEST_F(OnnxRuntimeTest, EveryExportableMethodAgreesWithTheExactModel) {
  const struct {
    models::QuantSpec quant;
    const char* what;
  } cases[] = {
      {{"ewgs:bits=1", "ewgs:bits=1"}, "small_cnn ewgs W1A1"},
      {{"ewgs:bits=2", "ewgs:bits=2"}, "small_cnn ewgs W2A2"},
      {{"ewgs:bits=4", "ewgs:bits=4"}, "small_cnn ewgs W4A4"},
      {{"ewgs:bits=2", "ewgs:bits=2", "off", true}, "small_cnn ewgs W2A2, all layers"},
      {{"dorefa:bits=1", "dorefa:bits=1"}, "small_cnn dorefa W1A1"},
      {{"dorefa:bits=2", "pact:bits=2"}, "small_cnn dorefa + pact W2A2"},
      {{"lsq:bits=2", "lsq:bits=2"}, "small_cnn lsq W2A2"},
      {{"lsq_plus:bits=4", "lsq_plus:bits=4"}, "small_cnn lsq_plus W4A4"},
      {{"daq:bits=1", "daq:bits=1"}, "small_cnn daq W1A1"},
      {{"daq:bits=2", "daq:bits=4"}, "small_cnn daq W2A4"},
      {{"aqe:bits=1", "aqe:bits=1", "off", true}, "small_cnn aqe W1A1, all layers"},
      {{"aqe:bits=2", "aqe:bits=2", "off", true}, "small_cnn aqe W2A2, all layers"},
      {{"lbt_wa:bits=2", "lbt_wa:bits=2"}, "small_cnn lbt_wa W2A2"},
      {{"lbt_wa:bits=4", "lbt_wa:bits=3", "off", true}, "small_cnn lbt_wa W4A3, all layers"},
      {{"ewgs:bits=8", "ewgs:bits=8"}, "small_cnn ewgs W8A8"},
      {{"ewgs:bits=2", "off"}, "small_cnn ewgs W2, float activations"},
  };
  for (const auto& c : cases) {
    expect_agreement("small_cnn", c.quant, 6, 64, c.what);
  }
}

TEST_F(OnnxRuntimeTest, EveryModelAgreesWithTheExactModel) {
  const struct {
    const char* model;
    models::QuantSpec quant;
  } cases[] = {
      {"resnet20", {"ewgs:bits=1", "ewgs:bits=1"}},
      {"resnet18", {"lsq:bits=2", "lsq:bits=2"}},
      {"resnet34", {"dorefa:bits=4", "pact:bits=4"}},
      {"mobilenet_v2", {"ewgs:bits=4", "ewgs:bits=4", "off", true}},
      {"minw_cnn", {"aqe:bits=1", "aqe:bits=1", "off", true}},
  };
  for (const auto& c : cases) {
    expect_agreement(c.model, c.quant, 1, 32, std::string(c.model) + " " + c.quant.describe());
  }
}

TEST_F(OnnxRuntimeTest, OneBitModelHasTheEnginesTop1OnTheWholeTestSet) {
  torch::manual_seed(1);
  auto model = models::make_model("small_cnn", {10, 1, {"ewgs:bits=1", "ewgs:bits=1"}});
  train_briefly(*model, *train_, 60);
  const auto test = fashion_mnist("test", 10000);
  auto engine = export_to_engine(*model, {1, 28, 28}, infer::default_kernel_path(), 2);
  const auto engine_top1 = run_engine(engine, test.images).logits.argmax(1);
  const auto outputs = run_ort(export_bytes(*model), test.images, {"disabled", "all"});
  for (const auto& [level, out] : outputs) {
    const auto top1 = out.at("logits").argmax(1);
    const auto correct = (top1 == test.labels).sum().item<int64_t>();
    std::cout << "optimizations " << level << ": top-1 " << correct << " of 10000, "
              << (top1 != engine_top1).sum().item<int64_t>()
              << " differ from the packed engine's\n";
    EXPECT_EQ((top1 != engine_top1).sum().item<int64_t>(), 0) << "optimizations " << level;
    EXPECT_GT(correct, 3000) << "optimizations " << level
                             << ": trained, not degenerate (three times chance)";
  }
}

TEST_F(OnnxRuntimeTest, RoundingTiesFollowEachQuantizer) {
  // The first layer's input quantizer on [0, 3] with 2 bits maps x to x itself
  // (scale 1, no shift), so images of multiples of 1/4 put codes at exact ties.
  const auto images =
      (torch::arange(8 * 28 * 28) % 14).to(torch::kFloat).reshape({8, 1, 28, 28}) * 0.25f;
  const struct {
    const char* act;
    int64_t code_of_one_and_a_half;  ///< half to even: 2; DAQ's half down: 1
  } cases[] = {{"ewgs:bits=2", 2}, {"daq:bits=2", 1}};
  for (const auto& c : cases) {
    torch::manual_seed(1);
    auto model = models::make_model("small_cnn", {10, 1, {"ewgs:bits=2", c.act, "off", true}});
    initialize(*model, train_->images.slice(0, 0, 16));
    {
      torch::NoGradGuard no_grad;
      auto params = model->named_parameters();
      if (params.contains("conv1.act_quant.lower")) {
        params["conv1.act_quant.lower"].fill_(0.0);
      }
      params["conv1.act_quant.upper"].fill_(3.0);
    }
    const auto reference = exact_reference(*model, images);
    const auto& expected = reference.input_codes.at("conv1");
    ASSERT_EQ(expected.flatten()[6].item<double>(), static_cast<double>(c.code_of_one_and_a_half))
        << c.act;
    const auto outputs = run_ort(
        with_input_code_outputs(export_bytes(*model), {"conv1"}), images, {"disabled", "all"});
    for (const auto& [level, out] : outputs) {
      const auto codes = out.at(deploy::onnx_input_codes_name("conv1")).to(torch::kDouble);
      EXPECT_TRUE(torch::equal(codes, expected))
          << c.act << ", optimizations " << level << ": "
          << (codes != expected).sum().item<int64_t>() << " codes differ";
    }
  }
}

TEST_F(OnnxExportTest, TheCheckerAcceptsEveryExportedModel) {
  for (const auto& name : models::model_registry().names()) {
    for (const auto& quant :
         {models::QuantSpec{}, models::QuantSpec{"ewgs:bits=2", "ewgs:bits=2"}}) {
      torch::manual_seed(1);
      auto model = models::make_model(name, {10, 1, quant});
      initialize(*model, train_->images.slice(0, 0, 8));
      const auto what = name + " " + quant.describe();
      onnx::ModelProto proto;
      ASSERT_TRUE(proto.ParseFromString(export_bytes(*model))) << what;
      EXPECT_NO_THROW(onnx::checker::check_model(proto)) << what;
      // One image input and one logits output, both with a symbolic batch dimension.
      const auto& graph = proto.graph();
      ASSERT_EQ(graph.input_size(), 1) << what;
      ASSERT_EQ(graph.output_size(), 1) << what;
      EXPECT_EQ(graph.input(0).type().tensor_type().shape().dim(0).dim_param(), "batch") << what;
      EXPECT_EQ(graph.output(0).name(), "logits") << what;
      EXPECT_EQ(graph.output(0).type().tensor_type().shape().dim(0).dim_param(), "batch") << what;
      EXPECT_EQ(graph.output(0).type().tensor_type().shape().dim(1).dim_value(), 10) << what;
      // QCDQ: one QuantizeLinear per quantized layer, int8 weights exactly there.
      int64_t quantize = 0, int8_weights = 0;
      for (const auto& node : graph.node()) {
        quantize += node.op_type() == "QuantizeLinear";
      }
      for (const auto& t : graph.initializer()) {
        int8_weights += t.data_type() == onnx::TensorProto::INT8;
      }
      const auto layers = static_cast<int64_t>(models::summarize(*model).quantized_layers.size());
      EXPECT_EQ(quantize, layers) << what;
      EXPECT_EQ(int8_weights, layers) << what;
    }
  }
}

TEST_F(OnnxExportTest, UnsupportedModelsAreRefusedNamingTheLayer) {
  auto aqe = models::make_model("small_cnn", {10, 1, {"aqe:bits=3", "aqe:bits=3"}});
  initialize(*aqe, train_->images.slice(0, 0, 8));
  EWGS_EXPECT_THROWS_WITH(
      export_bytes(*aqe),
      "onnx export: layer conv2: aqe activation quantizer cannot be exported at 3 bits");
  auto model = models::make_model("small_cnn", {10, 1, {"ewgs:bits=2", "ewgs:bits=2"}});
  deploy::OnnxExportOptions options;
  options.input_shape = {1, 28, 28};
  options.opset = 11;
  EWGS_EXPECT_THROWS_WITH(
      deploy::export_onnx_bytes(*model, options), "onnx export: opset must be in [13, ");
  options.opset = 13;
  options.input_shape = {28, 28};
  EWGS_EXPECT_THROWS_WITH(
      deploy::export_onnx_bytes(*model, options),
      "onnx export: the input shape must be {channels, height, width}, got 2 values");
}

}  // namespace
}  // namespace ewgs::test
