// The data folder and the ${EWGS_DATA_DIR} placeholder in paths.
#include "ewgs/core/data_dir.h"

#include <filesystem>

#include "ewgs/core/files.h"

#include "support/scoped_environment.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

TEST(DataDirTest, TheEnvironmentOverridesTheConfiguredFolder) {
  {
    ScopedEnvironment env("EWGS_DATA_DIR", "/srv/ewgs-data");
    EXPECT_EQ(data_dir(), "/srv/ewgs-data");
  }
  for (const auto& unset : {std::optional<std::string>(), std::optional<std::string>("")}) {
    ScopedEnvironment env("EWGS_DATA_DIR", unset);
    // The folder CMake was configured with is absolute, whatever the working directory.
    EXPECT_TRUE(std::filesystem::path(data_dir()).is_absolute()) << data_dir();
  }
}

TEST(DataDirTest, ReplacesEveryPlaceholderAndLeavesOtherTextAlone) {
  ScopedEnvironment env("EWGS_DATA_DIR", "/d");
  EXPECT_EQ(expand_data_dir("${EWGS_DATA_DIR}/c.tar.gz", "k"), "/d/c.tar.gz");
  EXPECT_EQ(expand_data_dir("${EWGS_DATA_DIR}${EWGS_DATA_DIR}", "k"), "/d/d");
  EXPECT_EQ(expand_data_dir("a/${EWGS_DATA_DIR}/b", "k"), "a//d/b");
  EXPECT_EQ(expand_data_dir("", "k"), "");
  EXPECT_EQ(expand_data_dir("$EWGS_DATA_DIR/x/{y}", "k"), "$EWGS_DATA_DIR/x/{y}");
}

TEST(DataDirTest, RejectsOtherPlaceholdersNamingTheSetting) {
  ScopedEnvironment env("EWGS_DATA_DIR", "/d");
  EWGS_EXPECT_THROWS_WITH(
      expand_data_dir("${HOME}/x", "cfg.toml: data.root"),
      "cfg.toml: data.root: unknown placeholder ${HOME} in '${HOME}/x'; the one placeholder is "
      "${EWGS_DATA_DIR} (the data folder, now /d)");
  EWGS_EXPECT_THROWS_WITH(
      expand_data_dir("x/${EWGS_DATA_DIR", "data.root"),
      "data.root: 'x/${EWGS_DATA_DIR' opens '${' at offset 2 and never closes it");
  EWGS_EXPECT_THROWS_WITH(
      expand_data_dir("${EWGS_DATA_DIR}/${ewgs_data_dir}", "k"),
      "unknown placeholder ${ewgs_data_dir}");
}

TEST(DataDirTest, AMissingFileInTheDataFolderSaysHowToMoveIt) {
  ScopedEnvironment env("EWGS_DATA_DIR", "/nonexistent/data");
  EXPECT_EQ(
      data_dir_note("/nonexistent/data/c.tar.gz"),
      "; it lies in the data folder ${EWGS_DATA_DIR} = /nonexistent/data (from the environment "
      "variable): set EWGS_DATA_DIR to the folder that holds the data");
  EXPECT_EQ(data_dir_note("/nonexistent/database/c.tar.gz"), "");
  EXPECT_EQ(data_dir_note("relative/c.tar.gz"), "");
  EWGS_EXPECT_THROWS_WITH(
      require_regular_file("/nonexistent/data/model.pth", "checkpoint"),
      "checkpoint /nonexistent/data/model.pth does not exist; it lies in the data folder "
      "${EWGS_DATA_DIR} = /nonexistent/data (from the environment variable)");
}

}  // namespace
}  // namespace ewgs::test
