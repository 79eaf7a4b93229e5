// The quantizer registry: expected methods, spec parsing, "off", and errors.
#include "ewgs/quant/registry.h"

#include "ewgs/quant/interval_quantizer.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

TEST(QuantRegistryTest, ListsEveryMethodOnceInOrder) {
  EXPECT_EQ(
      quant::quantizer_registry().names(),
      (std::vector<std::string>{
          "ste", "ewgs", "lsq", "lsq_plus", "pact", "dorefa", "daq", "aqe", "lbt", "lbt_wa"}));
}

TEST(QuantRegistryTest, BuildsFromSpecText) {
  auto q = quant::make_quantizer("ewgs:bits=3,delta=0.01", QuantTarget::kActivation);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->method(), "ewgs");
  EXPECT_EQ(q->bits(), 3);
  EXPECT_EQ(q->target(), QuantTarget::kActivation);
  EXPECT_TRUE(q->has_delta());
  EXPECT_DOUBLE_EQ(q->delta(), 0.01f);
  auto ste = quant::make_quantizer("ste:bits=1", QuantTarget::kWeight);
  EXPECT_FALSE(ste->has_delta());
  EXPECT_EQ(quant::make_quantizer("ewgs", QuantTarget::kWeight)->bits(), quant::kDefaultBits);
}

TEST(QuantRegistryTest, OffMeansNoQuantizer) {
  EXPECT_FALSE(quant::make_quantizer("off", QuantTarget::kWeight));
  EXPECT_FALSE(quant::make_quantizer("fp", QuantTarget::kWeight));
  EXPECT_FALSE(quant::make_quantizer("ewgs:bits=32", QuantTarget::kActivation));
}

TEST(QuantRegistryTest, RejectsUnknownMethodsKeysAndBits) {
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("egws:bits=1", QuantTarget::kWeight),
      "unknown quantizer 'egws'; did you mean 'ewgs'?");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("ste:bits=1,delta=0.1", QuantTarget::kWeight), "has no key 'delta'");
  EWGS_EXPECT_THROWS_WITH(quant::make_quantizer("ewgs:bits=9", QuantTarget::kWeight), "got 9");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("ewgs:bits=2,delta=-1", QuantTarget::kWeight), "delta must be finite");
  // Out of float range: named by key here, not by LibTorch's conversion later.
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer(
          "dorefa:bits=1,estimator=ewgs,delta=4" + std::string(60, '4'), QuantTarget::kWeight),
      "delta must be a finite number within float range");
}

}  // namespace
}  // namespace ewgs::test
