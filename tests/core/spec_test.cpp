// Spec: parsing "name:key=value" text, typed getters, and rejection of typos.
#include "ewgs/core/spec.h"

#include "support/support.h"

namespace ewgs {
namespace {

TEST(SpecTest, ParsesNameAndTypedArguments) {
  const Spec s = Spec::parse(" ewgs : bits=2, delta=1e-3 ,flag=true,name=x ");
  EXPECT_EQ(s.name(), "ewgs");
  EXPECT_EQ(s.get_int("bits", 4), 2);
  EXPECT_DOUBLE_EQ(s.get_double("delta", 0.0), 1e-3);
  EXPECT_TRUE(s.get_bool("flag", false));
  EXPECT_EQ(s.get_string("name", ""), "x");
  EXPECT_EQ(s.get_int("missing", 7), 7);
  s.check_all_used();
  EXPECT_EQ(s.to_string(), "ewgs:bits=2,delta=1e-3,flag=true,name=x");
}

TEST(SpecTest, NameOnlyHasNoArguments) {
  const Spec s = Spec::parse("ste");
  EXPECT_EQ(s.name(), "ste");
  EXPECT_FALSE(s.has("bits"));
  s.check_all_used();
}

TEST(SpecTest, RejectsMalformedText) {
  EWGS_EXPECT_THROWS_WITH(Spec::parse(""), "expected 'name'");
  EWGS_EXPECT_THROWS_WITH(Spec::parse("ewgs:bits"), "expected key=value");
  EWGS_EXPECT_THROWS_WITH(Spec::parse("ewgs:bits=1,bits=2"), "key 'bits' given twice");
}

TEST(SpecTest, RejectsValuesOfTheWrongType) {
  const Spec s = Spec::parse("ewgs:bits=two,delta=x,flag=maybe");
  EWGS_EXPECT_THROWS_WITH(s.get_int("bits", 1), "bits must be an integer, got 'two'");
  EWGS_EXPECT_THROWS_WITH(s.get_double("delta", 0), "delta must be a number, got 'x'");
  EWGS_EXPECT_THROWS_WITH(s.get_bool("flag", false), "flag must be true or false");
}

TEST(SpecTest, RejectsNumbersFloatCannotHold) {
  for (const std::string value : {"1e39", "-4e38", "nan", "inf", "-inf"}) {
    const Spec s = Spec::parse("ewgs:delta=" + value);
    EWGS_EXPECT_THROWS_WITH(
        s.get_double("delta", 0), "delta must be a finite number within float range");
  }
  EXPECT_FLOAT_EQ(Spec::parse("ewgs:delta=3e38").get_double("delta", 0), 3e38f);
}

TEST(SpecTest, UnusedKeyIsAnErrorWithSuggestion) {
  const Spec s = Spec::parse("ewgs:bits=1,detla=0.1", "weight_quant");
  s.get_int("bits", 4);
  s.get_double("delta", 0.0);
  EWGS_EXPECT_THROWS_WITH(
      s.check_all_used(), "weight_quant 'ewgs' has no key 'detla'; did you mean 'delta'?");
}

}  // namespace
}  // namespace ewgs
