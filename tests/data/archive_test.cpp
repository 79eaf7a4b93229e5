// Data archives: extracted with libarchive into a cache folder keyed by the
// archive's identity; a missing archive is an error even when a copy is cached;
// members that would land outside the folder are refused.
#include "ewgs/data/archive.h"

#include <filesystem>

#include "data_test_util.h"

namespace ewgs::data {
namespace {

using test::DataTest;
using test::TarMember;
namespace fs = std::filesystem;

std::vector<TarMember> folder_with(const std::string& file, const std::vector<uint8_t>& content) {
  return {
      {"top/", TarMember::Kind::kFolder, {}, ""},
      {"top/" + file, TarMember::Kind::kFile, content, ""}};
}

TEST_F(DataTest, AMissingArchiveIsAnErrorEvenWithACachedCopy) {
  const auto archive = path("a.tar.gz");
  test::write_tar_gz(archive, folder_with("x.txt", {'1'}));
  const auto cache = path("cache");
  const auto extracted = extract_once(archive, "top", cache);
  EXPECT_TRUE(fs::exists(extracted + "/x.txt"));
  EXPECT_EQ(extract_once(archive, "top", cache), extracted);  // extracted once
  fs::remove(archive);
  EWGS_EXPECT_THROWS_WITH(
      extract_once(archive, "top", cache), "archive " + archive + " does not exist");
  EWGS_EXPECT_THROWS_WITH(
      extract_once(path("none.tar.gz"), "top", cache), "none.tar.gz does not exist");
}

TEST_F(DataTest, AnotherOrAChangedArchiveGetsItsOwnCopy) {
  const auto cache = path("cache");
  const auto first = path("one/data.tar.gz");
  const auto second = path("two/data.tar.gz");
  test::write_tar_gz(first, folder_with("x.txt", {'1'}));
  test::write_tar_gz(second, folder_with("y.txt", {'2'}));
  const auto a = extract_once(first, "top", cache);
  const auto b = extract_once(second, "top", cache);
  EXPECT_NE(a, b);
  EXPECT_TRUE(fs::exists(a + "/x.txt"));
  EXPECT_TRUE(fs::exists(b + "/y.txt"));
  // Rewritten in place with new content and a new modification time.
  test::write_tar_gz(first, folder_with("z.txt", {'3'}));
  fs::last_write_time(first, fs::last_write_time(first) + std::chrono::seconds(5));
  const auto c = extract_once(first, "top", cache);
  EXPECT_NE(c, a);
  EXPECT_TRUE(fs::exists(c + "/z.txt"));
}

TEST_F(DataTest, MembersThatEscapeTheFolderAreRefused) {
  const auto cache = path("cache");
  const std::vector<std::pair<TarMember, std::string>> cases = {
      {{"top/../../evil.txt", TarMember::Kind::kFile, {'x'}, ""},
       "member 'top/../../evil.txt' escapes"},
      {{"/tmp/evil.txt", TarMember::Kind::kFile, {'x'}, ""}, "member '/tmp/evil.txt' escapes"},
      {{"top/link", TarMember::Kind::kSymlink, {}, "/etc"},
       "symbolic link 'top/link' -> '/etc' points outside"},
      {{"top/up", TarMember::Kind::kSymlink, {}, "../../x"},
       "symbolic link 'top/up' -> '../../x' points outside"},
      {{"top/hard", TarMember::Kind::kHardlink, {}, "../x"},
       "hard link 'top/hard' -> '../x' escapes"},
  };
  int index = 0;
  for (const auto& [member, message] : cases) {
    const auto archive = path("bad" + std::to_string(index++) + ".tar.gz");
    auto members = folder_with("ok.txt", {'1'});
    members.push_back(member);
    test::write_tar_gz(archive, members);
    EWGS_EXPECT_THROWS_WITH(extract_once(archive, "top", cache), message);
  }
  EXPECT_FALSE(fs::exists(dir_ + "/evil.txt"));
  EXPECT_FALSE(fs::exists("/tmp/evil.txt"));
  for (const auto& entry : fs::directory_iterator(cache)) {
    ADD_FAILURE() << "left over: " << entry.path();
  }
  // A link that stays inside is fine.
  const auto archive = path("inside.tar.gz");
  auto members = folder_with("ok.txt", {'1'});
  members.push_back({"top/alias.txt", TarMember::Kind::kSymlink, {}, "ok.txt"});
  test::write_tar_gz(archive, members);
  EXPECT_TRUE(fs::exists(extract_once(archive, "top", cache) + "/alias.txt"));
}

}  // namespace
}  // namespace ewgs::data
