// The kernel path: the best the CPU runs by default, the one EWGS_INFER_KERNELS names
// when set, and a clear error for a path this CPU cannot run or that does not exist.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "ewgs/infer/error.h"
#include "ewgs/infer/kernel_path.h"

namespace ewgs::infer {
namespace {

/// Sets EWGS_INFER_KERNELS for one scope, restoring it afterwards.
class ForcedPath {
 public:
  explicit ForcedPath(const char* value) {
    const char* old = std::getenv("EWGS_INFER_KERNELS");
    had_ = old != nullptr;
    old_ = had_ ? old : "";
    setenv("EWGS_INFER_KERNELS", value, 1);
  }
  ~ForcedPath() {
    if (had_) {
      setenv("EWGS_INFER_KERNELS", old_.c_str(), 1);
    } else {
      unsetenv("EWGS_INFER_KERNELS");
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

TEST(InferKernelPathTest, TheEnvironmentVariableForcesEveryAvailablePath) {
  const auto paths = available_kernel_paths();
  ASSERT_GE(paths.size(), 2u);
  EXPECT_EQ(paths[0], KernelPath::kReference);
  EXPECT_EQ(paths[1], KernelPath::kPortable);
  for (const auto path : paths) {
    ForcedPath forced(to_string(path));
    EXPECT_EQ(default_kernel_path(), path);
  }
  {
    ForcedPath forced("");
    EXPECT_EQ(default_kernel_path(), paths.back());
  }
}

TEST(InferKernelPathTest, UnknownOrUnavailablePathsAreErrors) {
  ForcedPath forced("sse9");
  try {
    default_kernel_path();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown kernel path 'sse9'"), std::string::npos)
        << e.what();
  }
  for (const auto path : {KernelPath::kAvx2, KernelPath::kAvx512}) {
    bool available = false;
    for (const auto p : available_kernel_paths()) {
      available = available || p == path;
    }
    if (!available) {
      ForcedPath unavailable(to_string(path));
      EXPECT_THROW(default_kernel_path(), Error);
    }
  }
}

}  // namespace
}  // namespace ewgs::infer
