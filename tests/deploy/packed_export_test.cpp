// Exported models run by the packed engine compute exactly the fake-quantized model:
// the same input codes and integer sums at every quantized layer, the same logits to
// 1e-9 and the same predictions, for every exportable method, bit-width, model and
// kernel path; and unsupported models are refused with the layer named.
#include <gtest/gtest.h>

#include "deploy_test_util.h"
#include "ewgs/deploy/packed_export.h"
#include "ewgs/infer/error.h"
#include "ewgs/infer/kernel_path.h"
#include "ewgs/train/initialize_from.h"
#include "ewgs/train/train_config.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
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
void expect_exact(
    const std::string& name,
    const models::QuantSpec& quant,
    const LabelledImages& train,
    const LabelledImages& test,
    int64_t steps,
    const std::string& what) {
  torch::manual_seed(1);
  auto model = models::make_model(name, {10, 1, quant});
  try {
    train_briefly(*model, train, steps);
  } catch (const c10::Error& e) {
    FAIL() << what << ": training failed: " << e.what_without_backtrace();
  }
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
    EXPECT_EQ(compare_with_reference(run, subset), "")
        << what << " on the " << infer::to_string(path) << " path";
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
      {"ewgs:bits=1", "ewgs:bits=1", false},
      {"ste:bits=2", "ste:bits=2", false},
      {"ewgs:bits=4", "ewgs:bits=4", false},
      {"ewgs:bits=2", "ewgs:bits=2", true},
      {"dorefa:bits=1", "dorefa:bits=1", false},
      {"dorefa:bits=2", "pact:bits=2", false},
      {"lsq:bits=2", "lsq:bits=2", false},
      {"lsq_plus:bits=4", "lsq_plus:bits=4", false},
      {"daq:bits=1", "daq:bits=1", false},
      {"daq:bits=2", "daq:bits=4", false},
      {"aqe:bits=1", "aqe:bits=1", true},
      {"aqe:bits=2", "aqe:bits=2", true},
      {"lbt_wa:bits=2", "lbt_wa:bits=2", false},
      {"lbt_wa:bits=4", "lbt_wa:bits=3", true},
      {"ewgs:bits=1", "ewgs:bits=2", false},
      {"ewgs:bits=4", "ewgs:bits=1", false},
  };
  for (const auto& c : cases) {
    expect_exact(
        "small_cnn", {c.weight, c.act, "off", c.first_last}, *train_, *test_, 30, describe(c));
  }
}

TEST_F(PackedExportTest, EveryModelMatchesTheExactModelAtOneTwoAndFourBits) {
  const LabelledImages test{test_->images.slice(0, 0, 64), test_->labels.slice(0, 0, 64)};
  for (const char* name : {"resnet20", "resnet18", "resnet34", "mobilenet_v2", "minw_cnn"}) {
    for (const int bits : {1, 2, 4}) {
      // EWGS's initial activation interval [min x, 3 std / sqrt(1 - 2/pi)] assumes
      // ReLU outputs; on symmetric inputs (MINW-Net's HardTanh, MobileNetV2's linear
      // bottlenecks) it leaves every 1-bit code 0. Those train with AQE (MINW-Net's
      // own method, 1 and 2 bits) and DoReFa (1 bit) instead.
      const std::string model(name);
      const char* method = model == "minw_cnn" && bits <= 2       ? "aqe"
                           : model == "mobilenet_v2" && bits == 1 ? "dorefa"
                                                                  : "ewgs";
      const auto spec = std::string(method) + ":bits=" + std::to_string(bits);
      // MobileNetV2 quantizes every layer, as in the paper.
      const bool all = std::string(name) == "mobilenet_v2";
      expect_exact(
          name, {spec, spec, "off", all}, *train_, test, 8, std::string(name) + " " + spec);
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
    ASSERT_EQ(compare_with_reference(run, exact_reference(*model, images)), "")
        << "images from " << begin;
    float32_mismatches += float32_prediction_mismatches(*model, images, run.logits);
    correct +=
        (run.logits.argmax(1) == test.labels.slice(0, begin, begin + 1000)).sum().item<int64_t>();
  }
  // Trained, not degenerate: three times chance after 60 steps.
  EXPECT_GT(correct, 3000);
  // The float32 graph rounds its sums, which moves a few activations across a
  // rounding boundary; it disagrees on at most 0.05 % of the predictions
  // (docs/DEPLOYMENT.md).
  EXPECT_LE(float32_mismatches, 5);
  std::cout << "Fashion-MNIST W1A1 small CNN: engine top-1 " << correct / 100.0 << "%, "
            << float32_mismatches << " predictions differ from the float32 graph\n";
}

TEST_F(PackedExportTest, FloatGraphSumsDividedByTheScaleAreTheEngineIntegers) {
  for (const char* spec : {"ewgs:bits=1", "ewgs:bits=2", "ewgs:bits=4"}) {
    torch::manual_seed(1);
    auto model = models::make_model("resnet20", {10, 1, {spec, spec}});
    train_briefly(*model, *train_, 8);
    auto engine = export_to_engine(*model, {1, 28, 28}, infer::default_kernel_path(), 2);
    const auto run = run_engine(engine, test_->images.slice(0, 0, 32));
    const auto sums = float32_sums(*model, run);
    EXPECT_EQ(sums.size(), 18u) << spec;  // the quantized convs of ResNet-20
    for (const auto& [layer, expected] : sums) {
      EXPECT_TRUE(torch::equal(run.sums.at(layer).to(torch::kDouble), expected))
          << spec << " layer " << layer;
    }
  }
}

TEST_F(PackedExportTest, UnsupportedModelsAreRefusedNamingTheLayer) {
  const struct {
    models::QuantSpec quant;
    const char* message;
  } cases[] = {
      {{"ewgs:bits=8", "ewgs:bits=8"},
       "layer conv2: 8-bit weights; the packed format holds 1-4-bit weights"},
      {{"aqe:bits=3", "aqe:bits=3"},
       "layer conv2: aqe activation quantizer cannot be exported at 3 bits"},
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

/// Output of a shell command.
std::string command_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof(buffer), pipe)) {
    out += buffer;
  }
  if (pipe) {
    EXPECT_EQ(pclose(pipe), 0) << command;
  }
  return out;
}

TEST_F(PackedExportTest, TheLibTorchFreeExampleGivesTheEnginePredictions) {
  torch::manual_seed(1);
  auto model = models::make_model("small_cnn", {10, 1, {"ewgs:bits=1", "ewgs:bits=1"}});
  train_briefly(*model, *train_, 20);
  const auto dir = std::filesystem::temp_directory_path() / "ewgs_deploy_example";
  std::filesystem::create_directories(dir);
  deploy::PackedExportOptions options;
  options.input_shape = {1, 28, 28};
  deploy::export_packed(*model, options, (dir / "model.ewgsm").string());
  const auto images = test_->images.slice(0, 0, 50).contiguous();
  std::ofstream((dir / "images.f32").string(), std::ios::binary)
      .write(reinterpret_cast<const char*>(images.data_ptr<float>()), images.numel() * 4);
  const std::string example = EWGS_PACKED_INFERENCE_EXAMPLE;
  const auto printed = command_output(
      example + " " + (dir / "model.ewgsm").string() + " " + (dir / "images.f32").string() + " 2");
  auto engine = export_to_engine(*model, {1, 28, 28}, infer::default_kernel_path());
  const auto expected = run_engine(engine, images).logits.argmax(1);
  std::istringstream lines(printed);
  int64_t n = 0;
  for (int64_t label = 0; lines >> label; ++n) {
    ASSERT_LT(n, 50);
    EXPECT_EQ(label, expected[n].item<int64_t>()) << "image " << n;
  }
  EXPECT_EQ(n, 50);
  // A deployed binary: no LibTorch among its libraries.
  const auto libraries = command_output("ldd " + example);
  EXPECT_EQ(libraries.find("torch"), std::string::npos) << libraries;
  EXPECT_NE(libraries.find("libc.so"), std::string::npos) << libraries;
}

TEST_F(PackedExportTest, ImagesInNhwcOrderGiveTheSameLogitsAsNchw) {
  torch::manual_seed(2);
  auto model = models::make_model("resnet20", {10, 3, {"ewgs:bits=2", "ewgs:bits=2"}});
  const auto images = torch::randn({6, 3, 32, 32});
  {
    torch::NoGradGuard no_grad;
    model->train();
    model->forward(images);  // initializes the quantizers
  }
  auto engine = export_to_engine(*model, {3, 32, 32}, infer::default_kernel_path());
  const auto nhwc = images.permute({0, 2, 3, 1}).contiguous();
  const auto from_nchw = engine.run(images.data_ptr<float>(), 6, infer::Layout::kNCHW);
  EXPECT_EQ(engine.run(nhwc.data_ptr<float>(), 6, infer::Layout::kNHWC), from_nchw);
  // And they are not the logits of the images read the wrong way.
  EXPECT_NE(engine.run(nhwc.data_ptr<float>(), 6, infer::Layout::kNCHW), from_nchw);
  // run() takes the six images four at a time (128 KiB tensors per image, 512 KiB
  // per chunk), run_traced() all at once: the same logits.
  const auto whole = engine.run_traced(images.data_ptr<float>(), 6, infer::Layout::kNCHW, nullptr);
  EXPECT_EQ(std::vector<float>(whole.begin(), whole.end()), from_nchw);
  const auto whole_nhwc =
      engine.run_traced(nhwc.data_ptr<float>(), 6, infer::Layout::kNHWC, nullptr);
  EXPECT_EQ(std::vector<float>(whole_nhwc.begin(), whole_nhwc.end()), from_nchw);
  // Two threads take one chunk each, with engines of their own.
  engine.set_threads(2);
  EXPECT_EQ(engine.run(images.data_ptr<float>(), 6, infer::Layout::kNCHW), from_nchw);
  EXPECT_EQ(engine.run(nhwc.data_ptr<float>(), 6, infer::Layout::kNHWC), from_nchw);
  // An error in a chunk that a worker thread runs comes back as an error.
  auto bad = images.clone();
  bad[5][1][2][3] = std::numeric_limits<float>::quiet_NaN();
  try {
    engine.run(bad.data_ptr<float>(), 6, infer::Layout::kNCHW);
    ADD_FAILURE() << "a NaN pixel was accepted";
  } catch (const infer::Error& e) {
    EXPECT_NE(std::string(e.what()).find("image 5 has a non-finite value"), std::string::npos)
        << e.what();
  }
}

TEST_F(PackedExportTest, CifarResNet20MatchesTheExactModelOnEveryTestImage) {
  const auto archive = shared_data_path("cifar10-jpeg.tar.gz");
  const auto checkpoint = shared_data_path("resnet20-fp-cifar10jpeg-official.pth");
  if (!std::filesystem::exists(archive) || !std::filesystem::exists(checkpoint)) {
    GTEST_SKIP() << "the CIFAR-10 JPEG copy or the official ResNet-20 checkpoint is missing under "
                 << shared_data_path("");
  }
  // W1A1 EWGS fine-tuned briefly from the official full-precision ResNet-20.
  train::TrainConfig config;
  config.model_name = "resnet20";
  config.quant_method = "ewgs";
  config.quant_wbits = 1;
  config.quant_abits = 1;
  config.train_init_from = checkpoint;
  config.validate();
  torch::manual_seed(1);
  auto model = models::make_model("resnet20", {10, 3, config.quant_spec()});
  train::initialize_from(*model, config);
  train_briefly(*model, eval_images("cifar10-jpeg", archive, "train", 9600), 150, 1e-3);
  const auto test = eval_images("cifar10-jpeg", archive, "test", 10000);
  auto engine = export_to_engine(*model, {3, 32, 32}, infer::default_kernel_path(), 2);
  int64_t correct = 0;
  int64_t float32_mismatches = 0;
  for (int64_t begin = 0; begin < test.images.size(0); begin += 250) {
    const auto images = test.images.slice(0, begin, begin + 250);
    const auto run = run_engine(engine, images);
    ASSERT_EQ(compare_with_reference(run, exact_reference(*model, images)), "")
        << "images from " << begin;
    float32_mismatches += float32_prediction_mismatches(*model, images, run.logits);
    correct +=
        (run.logits.argmax(1) == test.labels.slice(0, begin, begin + 250)).sum().item<int64_t>();
  }
  EXPECT_GT(correct, 3000);  // far above chance after 150 steps
  EXPECT_LE(float32_mismatches, 10) << "of 10,000 (docs/DEPLOYMENT.md)";
  std::cout << "CIFAR-10 W1A1 ResNet-20: engine top-1 " << correct / 100.0 << "%, "
            << float32_mismatches << " predictions differ from the float32 graph\n";
}

}  // namespace
}  // namespace ewgs::test
