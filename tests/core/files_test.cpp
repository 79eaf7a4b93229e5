// Regular-file checks and scratch folders (include/ewgs/core/files.h).
#include "ewgs/core/files.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/support.h"

namespace ewgs::test {
namespace {

namespace fs = std::filesystem;

TEST(FilesTest, OnlyRegularFilesAreRead) {
  const auto dir = fs::temp_directory_path() / "ewgs_files_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "plain") << "bytes";
  EXPECT_EQ(read_file_bytes((dir / "plain").string(), "input"), "bytes");
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  EWGS_EXPECT_THROWS_WITH(
      read_file_bytes((dir / "fifo").string(), "checkpoint"),
      "is not a regular file (it is a FIFO)");
  EWGS_EXPECT_THROWS_WITH(
      require_regular_file(dir.string(), "checkpoint"), "is not a regular file (it is a folder)");
  EWGS_EXPECT_THROWS_WITH(
      require_regular_file((dir / "none").string(), "checkpoint"), "none does not exist");
  fs::remove_all(dir);
}

TEST(FilesTest, AScopedFolderIsGoneAfterItsScopeAlsoWhenAnErrorUnwindsIt) {
  const auto path = (fs::temp_directory_path() / "ewgs_scoped_folder_test" / "nested").string();
  {
    const ScopedFolder folder(path);
    EXPECT_TRUE(fs::is_directory(folder.path()));
    std::ofstream(fs::path(folder.path()) / "file") << "x";
  }
  EXPECT_FALSE(fs::exists(path));
  try {
    const ScopedFolder folder(path);
    fs::create_directories(fs::path(folder.path()) / "run" / "deeper");
    throw std::runtime_error("a failed run");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace ewgs::test
