// Helpers shared by the tests: seeded fixture, closeness with a stated tolerance,
// error-message assertions and golden files.
#pragma once

#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <string>

namespace ewgs::test {

/// Seeds LibTorch's generator before every test.
class SeededTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

/// Expects |a - b| <= atol + rtol |b| element-wise, reporting the worst element.
::testing::AssertionResult all_close(
    const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol);

/// Expects `a` and `b` to be identical (same shape, bit-equal values).
::testing::AssertionResult all_equal(const torch::Tensor& a, const torch::Tensor& b);

/// The parsed JSON golden file tests/golden/<name>.
nlohmann::json load_golden(const std::string& name);

/// A float tensor from a golden entry {"shape": [...], "data": [flat values]}.
torch::Tensor tensor_from_json(const nlohmann::json& entry);

/// Path of a file in the data folder (ewgs::data_dir(): $EWGS_DATA_DIR when set, else
/// the EWGS_DATA_DIR the build was configured with, default ../shared/data).
std::string shared_data_path(const std::string& name);

}  // namespace ewgs::test

/// Asserts that `statement` throws c10::Error whose message contains `substring`.
#define EWGS_EXPECT_THROWS_WITH(statement, substring)                           \
  do {                                                                          \
    try {                                                                       \
      (void)(statement);                                                        \
      ADD_FAILURE() << "expected an error containing '" << (substring) << "'";  \
    } catch (const c10::Error& e) {                                             \
      const std::string message = e.what_without_backtrace();                   \
      EXPECT_NE(message.find(substring), std::string::npos)                     \
          << "error message '" << message << "' lacks '" << (substring) << "'"; \
    }                                                                           \
  } while (false)
