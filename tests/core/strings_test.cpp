// String helpers: split/join/trim and the edit-distance suggestions.
#include "ewgs/core/strings.h"

#include "support/support.h"

namespace ewgs {
namespace {

TEST(StringsTest, SplitKeepsEmptyPiecesAndJoinInvertsIt) {
  const auto parts = split("a,,b", ',');
  EXPECT_EQ(parts, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(join(parts, ","), "a,,b");
  EXPECT_EQ(trim("  x y \t\n"), "x y");
}

TEST(StringsTest, EditDistanceCountsInsertionsDeletionsSubstitutions) {
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

TEST(StringsTest, SuggestsOnlyCloseCandidates) {
  EXPECT_EQ(did_you_mean("epochz", {"epochs", "seed"}), "; did you mean 'epochs'?");
  EXPECT_EQ(did_you_mean("zzzzzz", {"epochs", "seed"}), "");
}

}  // namespace
}  // namespace ewgs
