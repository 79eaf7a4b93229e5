// QLinear: forward and gradients against the formulas, mixed on/off quantizers.
#include "ewgs/nn/qlinear.h"

#include <torch/torch.h>

#include "support/support.h"

namespace ewgs::test {
namespace {

using nn::QLinear;
using nn::QLinearOptions;

class QLinearTest : public SeededTest {};

TEST_F(QLinearTest, ForwardIsScaledLinearOfQuantizedOperands) {
  QLinear fc(QLinearOptions(8, 3).weight_quant("ste:bits=2").act_quant("ste:bits=3"));
  fc->train();
  const auto x = torch::relu(torch::randn({5, 8}));
  const auto y = fc->forward(x);
  const auto x_q = fc->act_quant->forward(x);
  const auto w_q = fc->weight_quant->forward(fc->weight);
  EXPECT_TRUE(all_close(y, fc->output_scale.abs() * torch::linear(x_q, w_q), 1e-6, 1e-7));
  // alpha = E|x w^T| / E|x_q w_q^T| from the first batch.
  const double alpha = torch::linear(x, fc->weight).abs().mean().item<double>() /
                       torch::linear(x_q, w_q).abs().mean().item<double>();
  EXPECT_NEAR(fc->output_scale.item<double>(), alpha, 1e-6);
}

TEST_F(QLinearTest, WeightOnlyQuantizationKeepsActivationsExact) {
  QLinear fc(QLinearOptions(4, 2).weight_quant("ewgs:bits=1").act_quant("off").bias(true));
  EXPECT_FALSE(fc->act_quant);
  fc->train();
  const auto x = torch::randn({3, 4});  // signed inputs are fine without an activation quantizer
  const auto y = fc->forward(x);
  const auto w_q = fc->weight_quant->forward(fc->weight);
  EXPECT_TRUE(all_close(y, fc->output_scale.abs() * torch::linear(x, w_q, fc->bias), 1e-6, 1e-7));
}

TEST_F(QLinearTest, AcceptsLeadingBatchDimensionsAndRejectsWrongFeatures) {
  QLinear fc(QLinearOptions(4, 2));
  fc->train();
  EXPECT_EQ(fc->forward(torch::rand({2, 3, 4})).sizes(), (std::vector<int64_t>{2, 3, 2}));
  EWGS_EXPECT_THROWS_WITH(fc->forward(torch::rand({2, 5})), "expected input of shape (*, 4)");
}

}  // namespace
}  // namespace ewgs::test
