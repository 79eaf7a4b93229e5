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

TEST(StringsTest, FindsTheFirstByteThatIsNotUtf8) {
  const auto npos = std::string::npos;
  EXPECT_EQ(invalid_utf8_offset(""), npos);
  EXPECT_EQ(invalid_utf8_offset("plain ascii"), npos);
  EXPECT_EQ(
      invalid_utf8_offset("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), npos);  // été € 😀
  EXPECT_EQ(invalid_utf8_offset("\xF4\x8F\xBF\xBF"), npos);                           // U+10FFFF
  EXPECT_EQ(
      invalid_utf8_offset("ICLR I\xA5"
                          "CLR"),
      6u);                                                 // a lone continuation byte
  EXPECT_EQ(invalid_utf8_offset("ab\xC3"), 2u);            // cut short at the end
  EXPECT_EQ(invalid_utf8_offset("\xC3("), 0u);             // lead byte, no continuation
  EXPECT_EQ(invalid_utf8_offset("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("\xE0\x80\xAF"), 0u);      // overlong '/', three bytes
  EXPECT_EQ(invalid_utf8_offset("x\xED\xA0\x80"), 1u);     // UTF-16 surrogate U+D800
  EXPECT_EQ(invalid_utf8_offset("\xF4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("\xE2\x82("), 0u);         // bad third byte
  EXPECT_EQ(invalid_utf8_offset("\xFF"), 0u);
}

}  // namespace
}  // namespace ewgs
