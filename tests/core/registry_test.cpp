// Registry: lookup, duplicate rejection and the error for unknown names.
#include "ewgs/core/registry.h"

#include "support/support.h"

namespace ewgs {
namespace {

using IntFactory = int (*)();
int one() {
  return 1;
}
int two() {
  return 2;
}

TEST(RegistryTest, FindsRegisteredEntriesInOrder) {
  Registry<IntFactory> r("thing");
  r.add("one", "first", one);
  r.add("two", "second", two);
  EXPECT_EQ(r.get("two").factory(), 2);
  EXPECT_EQ(r.get("one").description, "first");
  EXPECT_EQ(r.names(), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(r.contains("one"));
  EXPECT_FALSE(r.contains("three"));
}

TEST(RegistryTest, RejectsDuplicateNames) {
  Registry<IntFactory> r("thing");
  r.add("one", "first", one);
  EWGS_EXPECT_THROWS_WITH(r.add("one", "again", two), "cannot register thing 'one' twice");
}

TEST(RegistryTest, UnknownNameListsRegisteredOnesAndSuggests) {
  Registry<IntFactory> r("model");
  r.add("resnet20", "", one);
  r.add("resnet18", "", two);
  EWGS_EXPECT_THROWS_WITH(r.get("resnt20"), "unknown model 'resnt20'; did you mean 'resnet20'?");
  EWGS_EXPECT_THROWS_WITH(r.get("vgg"), "registered: resnet20, resnet18");
}

}  // namespace
}  // namespace ewgs
